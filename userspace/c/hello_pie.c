/* A static PIE (ET_DYN, no PT_INTERP; built with -static-pie): the kernel
 * loads it at an address of its choosing and `_start` (kvmfork.h with
 * KVMFORK_STATIC_PIE) applies its R_X86_64_RELATIVE relocations before main.
 * Every line after the first goes through an absolute address stored in
 * initialized data (string pointers, a pointer to an int, function pointers),
 * so a relocation not applied shows as a wrong line or a crash. Prints
 * `hello from pie`, then those lines; exits 0. */
#define KVMFORK_STATIC_PIE
#include "kvmfork.h"

struct greeting {
    const char *name;
    const char *(*text)(void);
};

static const char *morning(void) { return "good morning"; }
static const char *evening(void) { return "good evening"; }

/* Pointers in initialized data: each word needs a relocation. */
static const char *const words[] = {"one", "two", "three"};
static int answer = 42;
static int *const answer_ptr = &answer;
static const struct greeting greetings[] = {{"morning", morning}, {"evening", evening}};
/* A pointer to a pointer: two relocated words in a row. */
static const char *const *const first_word = &words[0];

/* `p` as a value the compiler cannot see through, so that reads through it load
 * the stored (relocated) words instead of constants folded at compile time. */
#define OPAQUE(p)                      \
    ({                                 \
        __typeof__(p) opaque_ = (p);   \
        __asm__("" : "+r"(opaque_));   \
        opaque_;                       \
    })

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    printf("hello from pie\n");
    const char *const *w = OPAQUE(&words[0]);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        printf("word %d %s\n", (int)i, w[i]);
    printf("answer %d\n", **OPAQUE(&answer_ptr));
    const struct greeting *g = OPAQUE(&greetings[0]);
    for (size_t i = 0; i < sizeof greetings / sizeof greetings[0]; i++)
        printf("%s: %s\n", g[i].name, g[i].text());
    printf("first word %s\n", **OPAQUE(&first_word));
    return 0;
}
