//! `BatchQueue`: the pure core of the batcher — which frames go into the next inference call, and when.
//!
//! - One slot per camera, latest frame wins: a camera whose previous frame is still waiting has it
//!   replaced (the caller counts the superseded frame). The camera keeps its place in line, so a
//!   fast camera cannot starve a slow one.
//! - A batch is ready when `max_batch` cameras wait, or when the oldest has waited `max_wait`.
//! - Memory is bounded by the number of cameras: at most one frame per camera is ever held.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Slot<K, T> {
    key: K,
    since: Instant,
    item: T,
}

/// Frames waiting for inference, keyed by camera.
#[derive(Debug)]
pub struct BatchQueue<K, T> {
    max_batch: usize,
    max_wait: Duration,
    slots: VecDeque<Slot<K, T>>,
}

impl<K: PartialEq + Clone, T> BatchQueue<K, T> {
    pub fn new(max_batch: usize, max_wait: Duration) -> Self {
        assert!(max_batch > 0, "max_batch is at least 1");
        Self { max_batch, max_wait, slots: VecDeque::new() }
    }

    /// Number of frames waiting (at most one per camera).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Queue `item` for camera `key` at time `now`. Returns the frame it superseded, if any.
    pub fn push(&mut self, key: K, item: T, now: Instant) -> Option<T> {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.key == key) {
            return Some(std::mem::replace(&mut slot.item, item));
        }
        self.slots.push_back(Slot { key, since: now, item });
        None
    }

    /// When the oldest waiting frame will have waited `max_wait`; `None` when empty.
    pub fn deadline(&self) -> Option<Instant> {
        self.slots.front().map(|s| s.since + self.max_wait)
    }

    /// Whether a batch should be taken now.
    pub fn is_ready(&self, now: Instant) -> bool {
        self.slots.len() >= self.max_batch || self.deadline().is_some_and(|d| now >= d)
    }

    /// Take up to `max_batch` frames, oldest first.
    pub fn take_batch(&mut self) -> Vec<(K, T)> {
        let n = self.slots.len().min(self.max_batch);
        self.slots.drain(..n).map(|s| (s.key, s.item)).collect()
    }

    /// Keep only the waiting frames whose key passes `keep` (a camera with several lanes left this device).
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.slots.retain(|s| keep(&s.key));
    }

    /// Remove a camera's waiting frame (the camera left this device).
    pub fn remove(&mut self, key: &K) -> Option<T> {
        let i = self.slots.iter().position(|s| &s.key == key)?;
        self.slots.remove(i).map(|s| s.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(max_batch: usize) -> BatchQueue<&'static str, u32> {
        BatchQueue::new(max_batch, Duration::from_millis(10))
    }

    #[test]
    fn latest_frame_wins_and_keeps_its_place() {
        let t0 = Instant::now();
        let mut q = q(8);
        assert_eq!(q.push("a", 1, t0), None);
        assert_eq!(q.push("b", 2, t0), None);
        assert_eq!(q.push("a", 3, t0 + Duration::from_millis(1)), Some(1));
        assert_eq!(q.take_batch(), vec![("a", 3), ("b", 2)]);
        assert!(q.is_empty());
    }

    #[test]
    fn ready_when_full_or_oldest_waited_long_enough() {
        let t0 = Instant::now();
        let mut q = q(2);
        q.push("a", 1, t0);
        assert!(!q.is_ready(t0 + Duration::from_millis(9)));
        assert!(q.is_ready(t0 + Duration::from_millis(10)));
        assert_eq!(q.deadline(), Some(t0 + Duration::from_millis(10)));
        q.push("b", 2, t0 + Duration::from_millis(5));
        assert!(q.is_ready(t0 + Duration::from_millis(5)));
    }

    #[test]
    fn batches_are_capped_and_fifo() {
        let t0 = Instant::now();
        let mut q = BatchQueue::new(2, Duration::ZERO);
        for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
            q.push(k, i, t0);
        }
        assert_eq!(q.take_batch(), vec![("a", 0), ("b", 1)]);
        assert_eq!(q.take_batch(), vec![("c", 2)]);
        assert_eq!(q.remove(&"c"), None);
    }

    proptest! {
        /// Whatever arrives, the queue never holds more than one frame per camera, never loses the
        /// newest frame of a camera, and every pushed frame is either superseded or taken exactly once.
        #[test]
        fn bounded_and_lossless_accounting(pushes in proptest::collection::vec((0u8..5, any::<bool>()), 0..200)) {
            let t0 = Instant::now();
            let mut q: BatchQueue<u8, usize> = BatchQueue::new(3, Duration::ZERO);
            let (mut superseded, mut taken) = (0usize, Vec::new());
            let mut newest = std::collections::HashMap::new();
            for (i, (cam, take)) in pushes.iter().enumerate() {
                if q.push(*cam, i, t0).is_some() { superseded += 1; }
                newest.insert(*cam, i);
                prop_assert!(q.len() <= 5);
                if *take {
                    for (k, v) in q.take_batch() {
                        prop_assert_eq!(newest.get(&k), Some(&v));
                        taken.push(v);
                    }
                }
            }
            let left = q.len();
            prop_assert_eq!(superseded + taken.len() + left, pushes.len());
        }
    }
}
