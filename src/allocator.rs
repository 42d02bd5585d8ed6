//! The process's use of glibc's allocator (issue 18, memory): what the binary sets at start,
//! and how memory freed after a burst of work goes back to the system. The binary calls
//! these; a library embedding Tollgate keeps its own allocator's policy.

use std::time::Duration;

/// Makes the memory of every argon2 computation go back to the operating system when it
/// ends; the binary calls it first thing (it is the process's allocator, so a library
/// embedding Tollgate decides for itself).
///
/// Why: glibc's malloc serves a block above its mmap threshold (128 KiB at first) with its
/// own `mmap` and unmaps it on `free`, but freeing such a block raises the threshold to
/// the block's size ("dynamic mmap threshold"). After the first argon2 verification, every
/// later 19 MiB block comes from a heap arena, and a freed arena block stays in the
/// process: 19 MiB per thread that ever ran argon2 (idle RSS 32.5 MiB with the example
/// configuration instead of 13, issue 18). Fixing the threshold at 1 MiB turns the
/// dynamic adjustment off, so every block of 1 MiB or more (the argon2 blocks; nothing on
/// a request path allocates that much otherwise) is mapped and unmapped, at the cost of
/// two system calls per argon2 run, which takes milliseconds anyway. This is smaller and
/// safer than hashing into memory allocated by hand, and cheaper than `malloc_trim` after
/// each check. Other allocators (musl, macOS) return such blocks already.
pub fn release_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a tuning parameter of glibc's allocator, which is
    // thread-safe; it touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// How often memory left free inside the allocator's heaps goes back to the system.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Hands the memory that is free inside glibc's heaps back to the operating system every
/// [`TRIM_EVERY`], for as long as the process runs.
///
/// Why: glibc gives a heap's free memory back only from the heap's top, and threads that
/// allocate at the same time get heaps (arenas) of their own. What a load run frees in the
/// middle of an arena (events on their way to the database, connection buffers, query
/// results) stayed resident: 21 to 36 MiB after a token load with events on, 18 to 20 with
/// them off, against 15 before the load. `malloc_trim` gives back every whole free page of
/// every arena; pages in use stay, and a page given back costs one fault when used again.
pub async fn return_free_memory_periodically() {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        return_free_memory();
    }
}

fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` walks glibc's own heaps under their locks and releases pages
    // no allocation holds; it touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
