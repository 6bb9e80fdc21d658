//! Memory that goes back to the system: argon2 takes 19 MiB per hash, and glibc would keep each
//! freed block in the arena of whichever blocking thread used it (hundreds of MiB after a burst,
//! never given back). Blocks of 1 MiB and more are instead mapped for their use and unmapped at
//! once, so resident memory follows the hashes running now and the few blocks
//! `auth::password::working_memory` keeps warm for a moment, not the hashes run before.

/// Call first thing in `main`, before any large allocation.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; a fixed threshold also turns off glibc's
    // dynamic raising of it, which is what let freed 19 MiB blocks stay in the arenas.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
