/* getuid, a call pausle never makes: exit with its errno when refused, 200 when allowed. */
#include <asm/unistd.h>
#if defined(__x86_64__)
#define SYSCALL1(n) ({ long r; __asm__ volatile ("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory"); r; })
#define EXIT(c) __asm__ volatile ("syscall" :: "a"(__NR_exit_group), "D"(c))
#define NR_GETUID __NR_getuid
#elif defined(__i386__)
#define SYSCALL1(n) ({ long r; __asm__ volatile ("int $0x80" : "=a"(r) : "a"(n) : "memory"); r; })
#define EXIT(c) __asm__ volatile ("int $0x80" :: "a"(__NR_exit_group), "b"(c))
#define NR_GETUID __NR_getuid32
#endif
void _start(void) { long r = SYSCALL1(NR_GETUID); EXIT(r < 0 ? -r : 200); for (;;) {} }
