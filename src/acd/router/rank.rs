//! An ordered set with rank queries ("how many callers are ahead of me?") in O(√n):
//! sorted chunks of at most `CHUNK` keys. Used for queue positions.
use std::cmp::Ordering;

const CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub(super) struct RankSet<K: Ord + Copy> {
    chunks: Vec<Vec<K>>,
    len: usize,
}

impl<K: Ord + Copy> Default for RankSet<K> {
    fn default() -> Self {
        RankSet {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Ord + Copy> RankSet<K> {
    pub fn len(&self) -> usize {
        self.len
    }
    /// Index of the chunk where `k` belongs.
    fn chunk_for(&self, k: &K) -> usize {
        let i = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|last| last < k));
        i.min(self.chunks.len().saturating_sub(1))
    }
    pub fn insert(&mut self, k: K) {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let ci = self.chunk_for(&k);
        let chunk = &mut self.chunks[ci];
        let pos = chunk.partition_point(|x| x < &k);
        if chunk.get(pos) == Some(&k) {
            return;
        }
        chunk.insert(pos, k);
        self.len += 1;
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(ci + 1, tail);
        }
    }
    pub fn remove(&mut self, k: &K) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let ci = self.chunk_for(k);
        let chunk = &mut self.chunks[ci];
        match chunk.binary_search(k) {
            Ok(pos) => {
                chunk.remove(pos);
                self.len -= 1;
                if chunk.is_empty() {
                    self.chunks.remove(ci);
                }
                true
            }
            Err(_) => false,
        }
    }
    /// Number of keys strictly smaller than `k`.
    pub fn rank(&self, k: &K) -> usize {
        let mut n = 0;
        for c in &self.chunks {
            match c.last().map(|last| last.cmp(k)) {
                Some(Ordering::Less) => n += c.len(),
                Some(_) => return n + c.partition_point(|x| x < k),
                None => {}
            }
        }
        n
    }
    pub fn first(&self) -> Option<&K> {
        self.chunks.first().and_then(|c| c.first())
    }
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_counts_smaller_keys_through_inserts_and_removes() {
        let mut s = RankSet::default();
        for k in (0..2000u32).rev() {
            s.insert(k * 2);
        }
        assert_eq!(s.len(), 2000);
        assert_eq!(s.rank(&0), 0);
        assert_eq!(s.rank(&1), 1);
        assert_eq!(s.rank(&2000), 1000);
        for k in 0..500u32 {
            assert!(s.remove(&(k * 2)));
        }
        assert!(!s.remove(&1));
        assert_eq!(s.rank(&2000), 500);
        assert_eq!(s.first(), Some(&1000));
        let v: Vec<u32> = s.iter().copied().collect();
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }
}
