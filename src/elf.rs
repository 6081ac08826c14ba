//! The first bytes of the image: an ELF file header and its program headers.
//!
//! The linker writes the image flat (`--oformat=binary`, see src/link.ld), so this
//! static *is* the file's header. One read+execute PT_LOAD maps the whole file, which
//! is all the kernel's ELF loader needs: no section headers (only tools read those) and
//! no interpreter. A program with writable state (pong; the crate root's
//! `DATA_SEGMENTS` says) adds a read+write PT_LOAD for its zero-initialised statics,
//! in pages of their own after the image: it takes no bytes of the file (p_filesz 0,
//! the kernel maps zero pages), code is never writable and data never executable. A
//! 64-bit ELF without PT_GNU_STACK gets a non-executable stack; a 32-bit one (i386,
//! arm) would get READ_IMPLIES_EXEC, every readable mapping made executable, so 32-bit
//! images also carry a PT_GNU_STACK that says read+write only.
//! The fields that depend on the link (entry point, load address, size) are relocations
//! the linker resolves; the rest are constants.
//!
//! A field that no loader reads holds the set of every signal that pausle blocks
//! ([`all_signals!`]), sparing the image those 8 bytes: PT_LOAD's physical address on
//! 64-bit (neither Linux nor qemu-user reads p_paddr; binfmt_misc matches only the first
//! 20 bytes of the file), and PT_GNU_STACK's virtual and physical addresses on 32-bit
//! (of that header Linux and qemu-user read only p_flags).

use libc::{
    EI_NIDENT, ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ET_EXEC, EV_CURRENT, PF_R, PF_W, PF_X, PT_LOAD,
};

unsafe extern "C" {
    /// The arch's entry point.
    fn _start() -> !;
    /// Defined by src/link.ld: its *address* is the image's length in bytes.
    static __pausle_size: u8;
    /// Defined by src/link.ld: the writable statics' address and (as an address) size.
    static __pausle_bss: u8;
    static __pausle_bss_size: u8;
}

#[cfg(target_pointer_width = "64")]
const CLASS: u8 = libc::ELFCLASS64;
#[cfg(target_pointer_width = "32")]
const CLASS: u8 = libc::ELFCLASS32;
#[cfg(target_endian = "little")]
const DATA: u8 = libc::ELFDATA2LSB;
#[cfg(target_endian = "big")]
const DATA: u8 = libc::ELFDATA2MSB;

/// Elf{32,64}_Ehdr followed by Elf{32,64}_Phdr, with the address-sized fields as
/// pointers (or usize) so the linker can fill them in and the class follows the target.
#[repr(C)]
pub(crate) struct Header {
    ident: [u8; EI_NIDENT],
    kind: u16,
    machine: u16,
    version: u32,
    entry: unsafe extern "C" fn() -> !,
    phoff: usize,
    shoff: usize,
    flags: u32,
    ehsize: u16,
    phentsize: u16,
    phnum: u16,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
    load: Phdr,
    data: [Phdr; DATA_SEGMENTS],
    #[cfg(target_pointer_width = "32")]
    stack: Phdr,
}

/// 0 or 1, chosen by the program (crate root).
const DATA_SEGMENTS: usize = crate::DATA_SEGMENTS;
const _: () = assert!(matches!(DATA_SEGMENTS, 0 | 1));

/// How many program headers follow the file header.
const PHNUM: usize = 1 + DATA_SEGMENTS + cfg!(target_pointer_width = "32") as usize;

#[cfg(target_pointer_width = "64")]
#[repr(C)]
#[derive(Clone, Copy)]
struct Phdr {
    kind: u32,
    flags: u32,
    offset: usize,
    vaddr: *const Header,
    paddr: u64,
    filesz: *const u8,
    memsz: *const u8,
    align: usize,
}

/// Elf32_Phdr orders its fields differently: flags come after the sizes.
#[cfg(target_pointer_width = "32")]
#[repr(C)]
#[derive(Clone, Copy)]
struct Phdr {
    kind: u32,
    offset: usize,
    vaddr: *const Header,
    paddr: *const Header,
    filesz: *const u8,
    memsz: *const u8,
    flags: u32,
    align: usize,
}

#[cfg(target_pointer_width = "64")]
type Ehdr = libc::Elf64_Ehdr;
#[cfg(target_pointer_width = "64")]
type LibcPhdr = libc::Elf64_Phdr;
#[cfg(target_pointer_width = "32")]
type Ehdr = libc::Elf32_Ehdr;
#[cfg(target_pointer_width = "32")]
type LibcPhdr = libc::Elf32_Phdr;

// The layout must be the ABI's to the byte; libc's own structs are the reference.
const _: () = assert!(size_of::<Header>() == size_of::<Ehdr>() + PHNUM * size_of::<LibcPhdr>());
const _: () = assert!(core::mem::offset_of!(Header, load) == size_of::<Ehdr>());

// SAFETY: read by the kernel from the file, never through this static at run time.
unsafe impl Sync for Header {}

/// The largest page size of any arch we ship (64 KiB on arm64 and ppc64le kernels): a
/// segment whose file offset and address agree modulo it maps on all of them.
const MAX_PAGE: usize = 0x1_0000;

#[used]
#[unsafe(link_section = ".pausle.header")]
pub(crate) static HEADER: Header = Header {
    ident: [
        ELFMAG0,
        ELFMAG1,
        ELFMAG2,
        ELFMAG3,
        CLASS,
        DATA,
        EV_CURRENT as u8,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ],
    kind: ET_EXEC,
    machine: super::arch::ELF_MACHINE,
    version: EV_CURRENT,
    entry: _start,
    phoff: size_of::<Ehdr>(),
    shoff: 0,
    flags: super::arch::ELF_FLAGS,
    ehsize: size_of::<Ehdr>() as u16,
    phentsize: size_of::<LibcPhdr>() as u16,
    phnum: PHNUM as u16,
    shentsize: 0,
    shnum: 0,
    shstrndx: 0,
    load: Phdr {
        kind: PT_LOAD,
        flags: PF_R | PF_X,
        offset: 0,
        vaddr: &raw const HEADER,
        #[cfg(target_pointer_width = "64")]
        paddr: super::ALL,
        #[cfg(target_pointer_width = "32")]
        paddr: &raw const HEADER,
        filesz: &raw const __pausle_size,
        memsz: &raw const __pausle_size,
        align: MAX_PAGE,
    },
    data: [Phdr {
        kind: PT_LOAD,
        flags: PF_R | PF_W,
        offset: 0,
        vaddr: (&raw const __pausle_bss).cast(),
        // Read by no loader (see the top of this file); an address is no u64 in a
        // constant.
        #[cfg(target_pointer_width = "64")]
        paddr: 0,
        #[cfg(target_pointer_width = "32")]
        paddr: (&raw const __pausle_bss).cast(),
        filesz: core::ptr::null(),
        memsz: &raw const __pausle_bss_size,
        align: MAX_PAGE,
    }; DATA_SEGMENTS],
    #[cfg(target_pointer_width = "32")]
    stack: Phdr {
        kind: libc::PT_GNU_STACK,
        flags: libc::PF_R | libc::PF_W,
        offset: 0,
        // [`all_signals!`]: the set's two halves, as they lie in memory.
        vaddr: half(0),
        paddr: half(1),
        filesz: core::ptr::null(),
        memsz: core::ptr::null(),
        align: 16,
    },
};

/// Half `i` of the set of every signal as it lies in memory, for a 32-bit field.
#[cfg(target_pointer_width = "32")]
const fn half(i: usize) -> *const Header {
    let all = super::ALL.to_ne_bytes();
    let word = u32::from_ne_bytes([all[4 * i], all[4 * i + 1], all[4 * i + 2], all[4 * i + 3]]);
    core::ptr::without_provenance(word as usize)
}

/// Where the set of every signal is in the image: 8 bytes of all ones in fields no
/// loader reads (see the top of this file).
macro_rules! all_signals {
    () => {
        address!(crate::rt::elf::HEADER, crate::rt::elf::ALL_SIGNALS)
    };
}
pub(crate) use all_signals;
#[cfg(target_pointer_width = "64")]
pub(crate) const ALL_SIGNALS: usize = core::mem::offset_of!(Header, load.paddr);
#[cfg(target_pointer_width = "32")]
pub(crate) const ALL_SIGNALS: usize = core::mem::offset_of!(Header, stack.vaddr);
