//! Micro-batching of short texts (search queries): the texts that arrive while a forward pass
//! runs are embedded together in the next one, so concurrent queries share one pass over the
//! weights instead of each paying for its own. One thread runs the passes; a text arriving when
//! it is idle starts a pass at once (no waiting for company), and a pass takes at most
//! [`MAX_BATCH`] texts. Calls with many texts (bulk embedding) go straight to the model. How
//! many may wait is bounded by the caller (the web layer answers 503 past its bound).
//!
//! The encoder runs each text at its own length, so a text's vector does not depend on the
//! texts it shares a pass with (the tests check that batched and single vectors agree).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

use crate::{EmbedError, Embedder, Embedding, ModelId};

/// Most texts in one pass: 32 queries of ~15 tokens are ~500 rows, enough to use every core
/// and read the weights once, while the pass stays short (~10 ms here).
pub const MAX_BATCH: usize = 32;
/// Calls with more texts than this are not batched (they are a batch already).
const SHORT_CALL: usize = 4;

struct Job {
    texts: Vec<String>,
    reply: SyncSender<Result<Vec<Embedding>, EmbedError>>,
}

/// An [`Embedder`] that batches the short calls of concurrent callers (see the module docs).
pub struct Batching {
    inner: Arc<dyn Embedder>,
    jobs: Sender<Job>,
    /// Texts submitted and not yet answered.
    depth: Arc<AtomicUsize>,
}

impl Batching {
    /// Batches the short calls to `inner`.
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        let (jobs, rx) = mpsc::channel();
        let depth = Arc::new(AtomicUsize::new(0));
        let (model, d) = (inner.clone(), depth.clone());
        std::thread::Builder::new().name("embed-batch".into()).spawn(move || run(&*model, &rx, &d)).expect("starting the embedding thread");
        Batching { inner, jobs, depth }
    }

    /// Texts waiting for a pass or in the running one.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }
}

/// The pass loop: blocks for a first job, takes whatever else is waiting (up to a full batch),
/// embeds each distinct text once and answers every job.
fn run(model: &dyn Embedder, rx: &Receiver<Job>, depth: &AtomicUsize) {
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut batch = vec![first];
        let mut texts = batch[0].texts.len();
        while texts < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) if texts + job.texts.len() <= MAX_BATCH => {
                    texts += job.texts.len();
                    batch.push(job);
                }
                Ok(job) => {
                    carry = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        let mut slots: HashMap<&str, usize> = HashMap::new();
        let mut unique: Vec<&str> = Vec::new();
        for t in batch.iter().flat_map(|j| &j.texts) {
            slots.entry(t.as_str()).or_insert_with(|| {
                unique.push(t.as_str());
                unique.len() - 1
            });
        }
        let result = model.embed(&unique);
        depth.fetch_sub(texts, Ordering::Relaxed);
        for job in &batch {
            let answer = match &result {
                Ok(vectors) => Ok(job.texts.iter().map(|t| vectors[slots[t.as_str()]].clone()).collect()),
                Err(e) => Err(EmbedError::Failed(e.to_string())),
            };
            // A caller that gave up is no reason to stop.
            let _ = job.reply.send(answer);
        }
    }
}

impl Embedder for Batching {
    fn model_id(&self) -> &ModelId {
        self.inner.model_id()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        // A caller in the thread pool embeds itself: the batching thread's passes run in the
        // pool, and callers waiting for them in all of its threads would leave none to run them
        // (fresh hybrid searches at once, whose meaning side runs in the pool, hung that way).
        if texts.is_empty() || texts.len() > SHORT_CALL || rayon::current_thread_index().is_some() {
            return self.inner.embed(texts);
        }
        let n = texts.len();
        self.depth.fetch_add(n, Ordering::Relaxed);
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job { texts: texts.iter().map(|t| (*t).to_owned()).collect(), reply };
        if self.jobs.send(job).is_err() {
            self.depth.fetch_sub(n, Ordering::Relaxed);
            return Err(EmbedError::Failed("the embedding thread has stopped".into()));
        }
        answer.recv().map_err(|_| EmbedError::Failed("the embedding thread has stopped".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Remembers the size of every call; each text's vector is its length, one-hot.
    struct Counting(Mutex<Vec<usize>>, ModelId);

    impl Embedder for Counting {
        fn model_id(&self) -> &ModelId {
            &self.1
        }
        fn dim(&self) -> usize {
            8
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
            self.0.lock().unwrap().push(texts.len());
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(texts.iter().map(|t| Embedding::normalized((0..8).map(|i| f32::from(u8::from(i == t.len() % 8))).collect())).collect())
        }
    }

    #[test]
    fn concurrent_calls_share_passes_and_get_their_own_vectors() {
        let inner = Arc::new(Counting(Mutex::new(vec![]), ModelId("count".into())));
        let batching = Arc::new(Batching::new(inner.clone()));
        let threads: Vec<_> = (0..24)
            .map(|i| {
                let b = batching.clone();
                std::thread::spawn(move || {
                    let text = "x".repeat(i % 5 + 1);
                    let v = b.embed(&[&text]).unwrap();
                    assert_eq!(v[0].as_slice()[text.len() % 8], 1.0, "{text}");
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let calls = inner.0.lock().unwrap().clone();
        assert!(calls.len() < 24, "24 concurrent calls in {} passes", calls.len());
        assert!(calls.iter().all(|&n| n <= 5), "each distinct text once per pass: {calls:?}");
        assert_eq!(batching.depth(), 0);
    }
}
