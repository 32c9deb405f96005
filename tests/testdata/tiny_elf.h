/* write_tiny_elf writes a static ELF of one 4 KiB page at 0x400000 (read
 * and execute) whose entry, at 0x400100, is the n bytes of code, with a
 * zeroed writable page at 0x600000: an image whose first instruction is
 * the test's own, with no C start-up code before it. */
#ifndef ELFUSE_TEST_TINY_ELF_H
#define ELFUSE_TEST_TINY_ELF_H
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_tiny_elf(const char *path, const unsigned char *code, size_t n) {
	unsigned char img[4096];
	memset(img, 0, sizeof img);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0x400000 + 0x100;
	eh->e_phoff = sizeof *eh;
	eh->e_ehsize = sizeof *eh;
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof *eh);
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0,
		.p_vaddr = 0x400000, .p_paddr = 0x400000, .p_filesz = sizeof img, .p_memsz = sizeof img, .p_align = 4096};
	ph[1] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0,
		.p_vaddr = 0x600000, .p_paddr = 0x600000, .p_filesz = 0, .p_memsz = 4096, .p_align = 4096};
	if (n > sizeof img - 0x100) {
		fprintf(stderr, "tiny image: %zu bytes of code\n", n);
		exit(1);
	}
	memcpy(img + 0x100, code, n);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0 || write(fd, img, sizeof img) != sizeof img || fchmod(fd, 0755) != 0 || close(fd) != 0) {
		perror("write image");
		exit(1);
	}
}

#endif
