/* Prints a greeting, argc, and each argument on its own line (argv[0] as its
 * base name, which is the same on every kernel); exits 0. */
#include "kvmfork.h"

int main(int argc, char **argv, char **envp)
{
    (void)envp;
    printf("hello from c\n");
    printf("argc %d\n", argc);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (i == 0)
            for (const char *p = argv[0]; *p; p++)
                if (*p == '/')
                    arg = p + 1;
        printf("argv[%d] %s\n", i, arg);
    }
    return 0;
}
