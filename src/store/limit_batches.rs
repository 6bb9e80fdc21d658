//! The limit takes of concurrent requests, decided together. While one statement of takes is
//! in flight, the takes that arrive wait for it, and the next statement decides all of them:
//! under load an instance's limits cost one statement for many requests. A request alone (as
//! on each Lambda instance, which serves one request at a time) goes at once, in the statement
//! it would have had anyway. SQLite takes rows one by one, so there nothing is combined.
//!
//! Each row is decided exactly as alone: `limits::take_each` applies the rule row by row, and
//! a batch never holds the same (bucket, key) twice, so one request's take of a row sees every
//! earlier one. Whether a request goes ahead, and what it gives back, stays the caller's.
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr};
use tokio::sync::oneshot;

use super::limits::{take_each, Rate, Take, MOST_ROWS_AT_ONCE};
use super::StoreError;

/// One row to take from, owned while it waits.
#[derive(Debug, Clone)]
pub struct OwnedTake {
    pub bucket: String,
    pub key: String,
    pub rate: Rate,
}

/// Row by row, `None` where taken and `Some(ms)` where refused, as `take_each` answers.
type Answers = Result<Vec<Option<i64>>, StoreError>;

struct Waiting {
    id: u64,
    takes: Vec<OwnedTake>,
    reply: oneshot::Sender<Answers>,
}

/// The requests waiting for the next statement, and the one statement in flight.
#[derive(Default)]
pub struct LimitBatches {
    waiting: Mutex<Vec<Waiting>>,
    /// Held by the statement in flight.
    in_flight: Arc<tokio::sync::Mutex<()>>,
    ids: AtomicU64,
}

impl LimitBatches {
    /// Takes from each row as `limits::take_each` does, in the next statement of takes.
    pub async fn take_each(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        takes: Vec<OwnedTake>,
        now_ms: fn() -> i64,
    ) -> Answers {
        if db.get_database_backend() == DatabaseBackend::Sqlite || takes.is_empty() {
            return take_each(db, &borrowed(&takes), now_ms()).await;
        }
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let (reply, mut answer) = oneshot::channel();
        self.queue().push(Waiting { id, takes, reply });
        // A request that goes away while it waits leaves the queue; once in a statement, the
        // statement goes on without it.
        let _leaves = Leaves { batches: self, id };
        loop {
            let in_flight = tokio::select! {
                biased;
                answers = &mut answer => return answers.unwrap_or_else(|_| Err(gone())),
                in_flight = self.in_flight.clone().lock_owned() => in_flight,
            };
            // The statement that just ended may have decided this request.
            if let Ok(answers) = answer.try_recv() {
                return answers;
            }
            let batch = self.gather(id);
            if batch.is_empty() {
                // Decided by a statement whose answer is on its way.
                continue;
            }
            // The statement runs to its end and answers every request in it even if this one
            // goes away meanwhile; the next one starts when it has.
            let db = db.clone();
            tokio::spawn(async move {
                let _in_flight = in_flight;
                decide(&db, batch, now_ms()).await;
            });
        }
    }

    fn queue(&self) -> MutexGuard<'_, Vec<Waiting>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// This request's takes first, then those of the others waiting, oldest first, while they
    /// fit in one statement and hold no row already in it.
    fn gather(&self, id: u64) -> Vec<Waiting> {
        let mut waiting = self.queue();
        let Some(mine) = waiting.iter().position(|w| w.id == id) else {
            return vec![];
        };
        let mut batch = vec![waiting.remove(mine)];
        let mut rows: HashSet<(String, String)> = batch[0]
            .takes
            .iter()
            .map(|t| (t.bucket.clone(), t.key.clone()))
            .collect();
        let mut kept = Vec::with_capacity(waiting.len());
        for other in waiting.drain(..) {
            let fits = rows.len() + other.takes.len() <= MOST_ROWS_AT_ONCE
                && other
                    .takes
                    .iter()
                    .all(|t| !rows.contains(&(t.bucket.clone(), t.key.clone())));
            if fits {
                rows.extend(
                    other
                        .takes
                        .iter()
                        .map(|t| (t.bucket.clone(), t.key.clone())),
                );
                batch.push(other);
            } else {
                kept.push(other);
            }
        }
        *waiting = kept;
        batch
    }
}

/// Runs one statement for the batch and answers each request its own rows. The rows go in
/// key order, so that statements of several instances lock shared rows in one order rather
/// than deadlock.
async fn decide(db: &DatabaseConnection, batch: Vec<Waiting>, now_ms: i64) {
    let rows: Vec<Take<'_>> = batch.iter().flat_map(|w| borrowed(&w.takes)).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].bucket, rows[i].key));
    let sorted: Vec<Take<'_>> = order.iter().map(|&i| rows[i]).collect();
    let answers = take_each(db, &sorted, now_ms).await.map(|decided| {
        let mut answers = vec![None; rows.len()];
        for (answer, &i) in decided.into_iter().zip(&order) {
            answers[i] = answer;
        }
        answers
    });
    let mut from = 0;
    for waiting in batch {
        let to = from + waiting.takes.len();
        let own = match &answers {
            Ok(answers) => Ok(answers[from..to].to_vec()),
            Err(err) => Err(copy(err)),
        };
        // A request that went away has nobody to answer.
        let _ = waiting.reply.send(own);
        from = to;
    }
}

fn borrowed(takes: &[OwnedTake]) -> Vec<Take<'_>> {
    takes
        .iter()
        .map(|t| Take {
            bucket: &t.bucket,
            key: &t.key,
            rate: t.rate,
        })
        .collect()
}

/// The statement's failure, for each request in it.
fn copy(err: &StoreError) -> StoreError {
    match err {
        StoreError::Unavailable(err) => StoreError::Unavailable(DbErr::Custom(err.to_string())),
        StoreError::Other(err) => StoreError::Other(DbErr::Custom(err.to_string())),
    }
}

/// A statement that ended without answering (its task panicked).
fn gone() -> StoreError {
    StoreError::Other(DbErr::Custom(
        "a combined rate-limit statement ended without an answer".into(),
    ))
}

/// Takes a request that goes away out of the queue.
struct Leaves<'a> {
    batches: &'a LimitBatches,
    id: u64,
}

impl Drop for Leaves<'_> {
    fn drop(&mut self) {
        self.batches.queue().retain(|w| w.id != self.id);
    }
}
