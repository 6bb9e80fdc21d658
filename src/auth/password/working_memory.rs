//! Argon2's working memory (19 MiB a hash), kept warm between hashes.
//!
//! A freshly mapped block costs a page fault for every 4 KiB page on first touch. On a virtual
//! machine (Firecracker here, and on Lambda) that is about 12 ms on top of a 19 ms hash. So
//! blocks are kept for the next hash, at most one for each hash running at once (the hasher's
//! permits bound that), and handed back to the system once none has wanted them for
//! `KEEP_WARM`: resident memory follows the hashes of the last moment, never the ones before.
//! Where the memory is reserved whether used or not (a Lambda function's), a floor of blocks
//! stays however long the quiet, so the first hash after idle costs what a warm one does.
//! A kept block still holds the last hash's state until the next hash overwrites all of it, as
//! freed heap memory would; it never leaves the process.
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use argon2::Block;
use tokio::runtime::Handle;
use tokio::time::Instant;

/// How long an unused block is kept: hashes that follow each other closer than this (a
/// sign-in's hash, then the next one) reuse the block; a quiet server gives it back.
pub const KEEP_WARM: Duration = Duration::from_millis(500);

/// Blocks of one size, for hashes with the service's parameters.
#[derive(Clone)]
pub struct WorkingMemory {
    blocks: usize,
    /// Blocks kept however long unused.
    floor: usize,
    pool: Arc<Mutex<Pool>>,
}

#[derive(Default)]
struct Pool {
    /// Kept blocks and when each was last used, oldest first.
    kept: Vec<(Box<[Block]>, Instant)>,
    /// Whether a task is on its way to hand back blocks that stay unused.
    reaping: bool,
}

impl WorkingMemory {
    /// A pool of working memories of `blocks` blocks (1 KiB each) each.
    pub fn new(blocks: usize) -> Self {
        Self {
            blocks,
            floor: 0,
            pool: Arc::default(),
        }
    }

    /// Keeps up to `floor` blocks (the most recently used) however long they go unused.
    pub fn keeping(mut self, floor: usize) -> Self {
        self.floor = floor;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used kept block, or a new one.
    pub fn take(&self) -> Box<[Block]> {
        let kept = self.lock().kept.pop().map(|(blocks, _)| blocks);
        kept.unwrap_or_else(|| vec![Block::default(); self.blocks].into_boxed_slice())
    }

    /// Keeps `blocks` for the next hash, and makes sure a task on `runtime` hands them back if
    /// none comes within `KEEP_WARM`. Blocks of another size are simply freed.
    pub fn keep(&self, blocks: Box<[Block]>, runtime: &Handle) {
        if blocks.len() != self.blocks {
            return;
        }
        let mut pool = self.lock();
        pool.kept.push((blocks, Instant::now()));
        if !pool.reaping {
            pool.reaping = true;
            runtime.spawn(self.clone().hand_back_unused());
        }
    }

    /// Until no more than the floor is kept: waits for the oldest kept block to go unused for
    /// `KEEP_WARM`, then frees every block that has, but the floor's newest.
    async fn hand_back_unused(self) {
        loop {
            let oldest = {
                let mut pool = self.lock();
                match pool.kept.first() {
                    Some((_, used)) if pool.kept.len() > self.floor => *used,
                    _ => {
                        pool.reaping = false;
                        return;
                    }
                }
            };
            tokio::time::sleep_until(oldest + KEEP_WARM).await;
            let unused: Vec<_> = {
                let mut pool = self.lock();
                let beyond_floor = pool.kept.len().saturating_sub(self.floor);
                let fresh = pool
                    .kept
                    .iter()
                    .position(|(_, used)| used.elapsed() < KEEP_WARM)
                    .unwrap_or(pool.kept.len())
                    .min(beyond_floor);
                pool.kept.drain(..fresh).collect()
            };
            // Unmapped outside the lock.
            drop(unused);
        }
    }

    /// How many blocks are kept now.
    pub fn kept(&self) -> usize {
        self.lock().kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_kept_block_is_reused_then_handed_back_once_unused() {
        let memory = WorkingMemory::new(8);
        let runtime = Handle::current();
        let first = memory.take();
        let address = first.as_ptr();
        memory.keep(first, &runtime);
        assert_eq!(memory.kept(), 1);
        tokio::time::sleep(KEEP_WARM / 2).await;
        let again = memory.take();
        assert_eq!(again.as_ptr(), address, "the kept block is reused");
        memory.keep(again, &runtime);
        // Used again half-way: it stays for a whole KEEP_WARM from then.
        tokio::time::sleep(KEEP_WARM * 3 / 4).await;
        assert_eq!(memory.kept(), 1);
        tokio::time::sleep(KEEP_WARM / 2).await;
        assert_eq!(memory.kept(), 0, "unused for KEEP_WARM: handed back");
        // A later hash starts a new block and a new hand-back.
        memory.keep(memory.take(), &runtime);
        tokio::time::sleep(KEEP_WARM * 2).await;
        assert_eq!(memory.kept(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn with_a_floor_the_newest_block_stays_however_long_the_quiet() {
        let memory = WorkingMemory::new(8).keeping(1);
        let runtime = Handle::current();
        let (a, b) = (memory.take(), memory.take());
        let newest = b.as_ptr();
        memory.keep(a, &runtime);
        memory.keep(b, &runtime);
        tokio::time::sleep(KEEP_WARM * 10).await;
        assert_eq!(memory.kept(), 1, "the block beyond the floor went back");
        let again = memory.take();
        assert_eq!(
            again.as_ptr(),
            newest,
            "the most recently used block stayed"
        );
        memory.keep(again, &runtime);
        tokio::time::sleep(KEEP_WARM * 10).await;
        assert_eq!(memory.kept(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn it_keeps_no_more_blocks_than_hashes_ran_at_once() {
        let memory = WorkingMemory::new(8);
        let runtime = Handle::current();
        for _ in 0..10 {
            let (a, b) = (memory.take(), memory.take());
            memory.keep(a, &runtime);
            memory.keep(b, &runtime);
        }
        assert_eq!(memory.kept(), 2);
        // Blocks of another size (a stored hash with other parameters) are not kept.
        memory.keep(vec![Block::default(); 4].into_boxed_slice(), &runtime);
        assert_eq!(memory.kept(), 2);
    }
}
