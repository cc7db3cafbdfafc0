# Here-documents: expansion or not, <<- stripping tabs, into commands and
# loops, and one larger than a pipe's capacity.
name=world
busybox cat <<END
hello $name
sum $((2 + 3)), cmd $(echo sub)
END
busybox cat <<'END'
hello $name, not expanded $(echo no)
END
busybox cat <<-END
	leading tabs
		are stripped
	END
while read a b; do
    echo "read: $b $a"
done <<END
1 one
2 two
3 three
END
busybox wc -l <<END
$(busybox seq 1 20000)
END
busybox tr a-z A-Z <<END | busybox sed 's/^/> /'
piped
here-doc
END
f() {
    busybox cat <<EOT
in a function: $1
EOT
}
f arg
