//! Exact and near-duplicate search in memory independent of corpus size.
//!
//! Rows are pushed in order ([`Spill::push`]): the MinHash signature goes to a file of
//! fixed-size records, each LSH band key and the exact key go to partition files chosen by
//! the key's hash. [`Spill::finish`] then reads one partition at a time:
//! - exact partitions, sorted by key: every row after the first with a key is a duplicate;
//! - band partitions, sorted by key: rows sharing a bucket are candidates; each row is
//!   compared with the first [`BUCKET_CAP`] earlier rows of the bucket that are not exact
//!   duplicates (a cap against boilerplate buckets), reading their signatures back, and the
//!   pairs at or above the threshold become edges, spilled to files by row range.
//!
//! [`Edges::for_each`] streams the edges in row order (then similarity, best first). Partitions
//! are sized so one holds about [`PART_BYTES`] of keys whatever the corpus size; what stays in
//! memory grows only by one bit per row (the duplicate set).
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::dedup::{BANDS, PERMS, Signature, band_keys, similarity};
use crate::Error;

/// Bytes of keys one partition holds when read back.
pub const PART_BYTES: u64 = 4 << 20;
/// Candidates per bucket a row is compared with.
pub const BUCKET_CAP: usize = 8;
/// Rows per edge file.
const EDGE_ROWS: u64 = 1 << 20;
const MAX_PARTS: u64 = 1024;
const SIG_BYTES: u64 = (PERMS * 4) as u64;

/// Fixed-size records `(key, row)` spread over partition files by key.
struct Partitions {
    paths: Vec<PathBuf>,
    writers: Vec<BufWriter<File>>,
}

impl Partitions {
    fn create(dir: &Path, name: &str, n: usize) -> Result<Partitions, Error> {
        let mut paths = Vec::with_capacity(n);
        let mut writers = Vec::with_capacity(n);
        for i in 0..n {
            let p = dir.join(format!("{name}-{i:04}.bin"));
            let f = File::create(&p).map_err(|e| Error::io(&p, e))?;
            writers.push(BufWriter::with_capacity(8 << 10, f));
            paths.push(p);
        }
        Ok(Partitions { paths, writers })
    }

    fn push(&mut self, key: u64, row: u32) -> Result<(), Error> {
        let i = (super::dedup::hash64(&key.to_le_bytes()) % self.writers.len() as u64) as usize;
        let mut rec = [0u8; 12];
        rec[..8].copy_from_slice(&key.to_le_bytes());
        rec[8..].copy_from_slice(&row.to_le_bytes());
        self.writers[i].write_all(&rec).map_err(|e| Error::io(&self.paths[i], e))
    }

    fn flush(&mut self) -> Result<(), Error> {
        for (w, p) in self.writers.iter_mut().zip(&self.paths) {
            w.flush().map_err(|e| Error::io(p, e))?;
        }
        self.writers.clear();
        Ok(())
    }

    /// Partition `i`, sorted by (key, row).
    fn read(&self, i: usize) -> Result<Vec<(u64, u32)>, Error> {
        let p = &self.paths[i];
        let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        let mut out: Vec<(u64, u32)> = records(&bytes).collect();
        out.sort_unstable();
        let _ = std::fs::remove_file(p);
        Ok(out)
    }
}

/// A set of row numbers, one bit each.
#[derive(Debug, Default, Clone)]
pub struct RowSet(Vec<u64>);

impl RowSet {
    pub fn insert(&mut self, row: u32) {
        let (w, b) = (row as usize / 64, row % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    pub fn contains(&self, row: u32) -> bool {
        self.0.get(row as usize / 64).is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The spill of one search.
pub struct Spill {
    dir: PathBuf,
    threshold: f64,
    bands: Partitions,
    exact: Partitions,
    sig_path: PathBuf,
    sigs: BufWriter<File>,
    rows: u32,
    expected: u64,
}

/// Partitions for `rows` rows of `per_row` key bytes.
fn parts_for(rows: u64, per_row: u64) -> usize {
    (rows * per_row).div_ceil(PART_BYTES).clamp(1, MAX_PARTS) as usize
}

impl Spill {
    /// A new search in `dir` (created; removed by [`Spill::finish`]) for about
    /// `expected_rows` rows.
    pub fn new(dir: &Path, expected_rows: u64, threshold: f64) -> Result<Spill, Error> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let bands = Partitions::create(dir, "band", parts_for(expected_rows, BANDS as u64 * 12))?;
        let exact = Partitions::create(dir, "exact", parts_for(expected_rows, 12))?;
        let sig_path = dir.join("signatures.bin");
        let f = File::create(&sig_path).map_err(|e| Error::io(&sig_path, e))?;
        Ok(Spill {
            dir: dir.to_path_buf(),
            threshold,
            bands,
            exact,
            sig_path,
            sigs: BufWriter::with_capacity(64 << 10, f),
            rows: 0,
            expected: expected_rows,
        })
    }

    /// Adds the next row: its signature and, when exact duplicates are wanted, its exact key.
    /// Returns the row number.
    pub fn push(&mut self, sig: &Signature, exact: Option<u64>) -> Result<u32, Error> {
        let row = self.rows;
        self.rows += 1;
        let mut buf = [0u8; PERMS * 4];
        for (c, v) in buf.chunks_exact_mut(4).zip(sig.iter()) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        self.sigs.write_all(&buf).map_err(|e| Error::io(&self.sig_path, e))?;
        for k in band_keys(sig) {
            self.bands.push(k, row)?;
        }
        if let Some(k) = exact {
            self.exact.push(k, row)?;
        }
        Ok(row)
    }

    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Runs the search: exact duplicates, then near-duplicate edges between the others.
    pub fn finish(mut self) -> Result<(RowSet, Edges), Error> {
        self.bands.flush()?;
        self.exact.flush()?;
        self.sigs.flush().map_err(|e| Error::io(&self.sig_path, e))?;
        drop(self.sigs);
        let mut dups = RowSet::default();
        for i in 0..self.exact.paths.len() {
            let recs = self.exact.read(i)?;
            for w in recs.windows(2) {
                if w[0].0 == w[1].0 {
                    dups.insert(w[1].1);
                }
            }
        }
        let edge_files = self.expected.max(u64::from(self.rows)).div_ceil(EDGE_ROWS).clamp(1, 256);
        let edge_rows = u64::from(self.rows).div_ceil(edge_files).max(1);
        let mut edges = Partitions::create(&self.dir, "edges", edge_files as usize)?;
        let mut sig_file = File::open(&self.sig_path).map_err(|e| Error::io(&self.sig_path, e))?;
        let mut read_sig = |row: u32| -> Result<Signature, Error> {
            let mut buf = [0u8; PERMS * 4];
            sig_file.seek(SeekFrom::Start(u64::from(row) * SIG_BYTES)).map_err(|e| Error::io(&self.sig_path, e))?;
            sig_file.read_exact(&mut buf).map_err(|e| Error::io(&self.sig_path, e))?;
            let mut s = [0u32; PERMS];
            for (v, c) in s.iter_mut().zip(buf.chunks_exact(4)) {
                let mut w = [0u8; 4];
                w.copy_from_slice(c);
                *v = u32::from_le_bytes(w);
            }
            Ok(s)
        };
        // Edge records reuse the partition format: key = (i << 32 | similarity bits), row = j;
        // they go to the file of j's row range.
        let mut edge_writers: Vec<(PathBuf, BufWriter<File>)> = Vec::new();
        for p in edges.paths.iter() {
            let f = File::create(p).map_err(|e| Error::io(p, e))?;
            edge_writers.push((p.clone(), BufWriter::with_capacity(8 << 10, f)));
        }
        edges.writers.clear();
        let mut bucket: Vec<u32> = Vec::new();
        let mut sigs: Vec<Signature> = Vec::new();
        for part in 0..self.bands.paths.len() {
            let recs = self.bands.read(part)?;
            let mut at = 0;
            while at < recs.len() {
                let key = recs[at].0;
                let mut end = at;
                while end < recs.len() && recs[end].0 == key {
                    end += 1;
                }
                if end - at > 1 {
                    bucket.clear();
                    bucket.extend(recs[at..end].iter().map(|r| r.1).filter(|r| !dups.contains(*r)));
                    bucket.dedup();
                    if bucket.len() > 1 {
                        // `sigs` holds the bucket's first BUCKET_CAP rows: the candidates.
                        sigs.clear();
                        for &j in bucket.iter() {
                            let sig = read_sig(j)?;
                            for (m, cand) in sigs.iter().enumerate() {
                                let s = similarity(cand, &sig);
                                if s >= self.threshold {
                                    let i = bucket[m];
                                    let file = ((u64::from(j) / edge_rows) as usize).min(edge_writers.len() - 1);
                                    let key = (u64::from(i) << 32) | u64::from((s as f32).to_bits());
                                    let (p, w) = &mut edge_writers[file];
                                    let mut rec = [0u8; 12];
                                    rec[..8].copy_from_slice(&key.to_le_bytes());
                                    rec[8..].copy_from_slice(&j.to_le_bytes());
                                    w.write_all(&rec).map_err(|e| Error::io(&*p, e))?;
                                }
                            }
                            if sigs.len() < BUCKET_CAP {
                                sigs.push(sig);
                            }
                        }
                    }
                }
                at = end;
            }
        }
        for (p, w) in edge_writers.iter_mut() {
            w.flush().map_err(|e| Error::io(&*p, e))?;
        }
        let _ = std::fs::remove_file(&self.sig_path);
        Ok((dups, Edges { dir: self.dir, files: edges.paths }))
    }
}

/// Near-duplicate pairs found by [`Spill::finish`].
pub struct Edges {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Edges {
    /// Calls `f(j, i, similarity)` for every pair (`i < j`) in order of `j`, then similarity
    /// (highest first), then `i`; each pair once.
    pub fn for_each(self, mut f: impl FnMut(u32, u32, f64) -> Result<(), Error>) -> Result<(), Error> {
        for p in &self.files {
            let file = File::open(p).map_err(|e| Error::io(p, e))?;
            let mut bytes = Vec::new();
            BufReader::new(file).read_to_end(&mut bytes).map_err(|e| Error::io(p, e))?;
            let mut recs: Vec<(u32, f32, u32)> =
                records(&bytes).map(|(key, row)| (row, f32::from_bits(key as u32), (key >> 32) as u32)).collect();
            recs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
            recs.dedup();
            for (j, s, i) in recs {
                f(j, i, f64::from(s))?;
            }
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    }
}

impl Drop for Edges {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The 12-byte records of a spill file: a little-endian `u64` key and `u32` row.
fn records(bytes: &[u8]) -> impl Iterator<Item = (u64, u32)> + '_ {
    bytes.chunks_exact(12).map(|c| {
        let mut k = [0u8; 8];
        k.copy_from_slice(&c[..8]);
        let mut r = [0u8; 4];
        r.copy_from_slice(&c[8..]);
        (u64::from_le_bytes(k), u32::from_le_bytes(r))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::dedup::{Lsh, signature};

    #[test]
    fn finds_what_the_in_memory_index_finds() {
        let dir = std::env::temp_dir().join(format!("sbd-spill-{}", std::process::id()));
        let base = "def load(path):\n    with open(path) as f:\n        data = json.load(f)\n    items = [normalise(x) for x in data['items'] if x.get('enabled')]\n    return sorted(items, key=lambda i: (i['priority'], i['name']))\n";
        let mut codes: Vec<String> = Vec::new();
        for i in 0..300 {
            codes.push(match i % 3 {
                0 => format!("fn f{i}(x: u32) -> u32 {{ let y = x * {i}; y + {} }}", i * 7),
                1 => format!("{base}# note {}\n", i / 30),
                _ => base.to_string(),
            });
        }
        // A tiny partition size would be more thorough; the expected row count sets it.
        let mut spill = Spill::new(&dir, 40_000, 0.85).unwrap();
        let mut lsh = Lsh::new(0.85);
        let mut memory_pairs = 0;
        for c in &codes {
            let sig = signature(c);
            spill.push(&sig, Some(crate::quality::dedup::exact_key(c))).unwrap();
            memory_pairs += usize::from(!lsh.query(&sig).is_empty());
            lsh.insert(sig);
        }
        let (dups, edges) = spill.finish().unwrap();
        // 99 later copies of `base`; 90 of the 100 `note` rows repeat one of 10 notes.
        assert_eq!(dups.len(), 189);
        let sigs: Vec<_> = codes.iter().map(|c| signature(c)).collect();
        let mut rows_with_edges = std::collections::BTreeSet::new();
        let mut last = (0u32, f64::MAX);
        edges
            .for_each(|j, i, s| {
                assert!(i < j && s >= 0.85 && !dups.contains(j) && !dups.contains(i));
                assert!((similarity(&sigs[i as usize], &sigs[j as usize]) - s).abs() < 1e-6);
                assert!(j > last.0 || (j == last.0 && s <= last.1), "ordered");
                last = (j, s);
                rows_with_edges.insert(j);
                Ok(())
            })
            .unwrap();
        // Every distinct `note` row after the first is close to an earlier one; brute force
        // agrees that each row with an edge has a close earlier row.
        for j in (31..300).step_by(30) {
            assert!(rows_with_edges.contains(&(j as u32)), "{j}");
        }
        for &j in &rows_with_edges {
            assert!((0..j).any(|i| similarity(&sigs[i as usize], &sigs[j as usize]) >= 0.85));
        }
        let _ = memory_pairs;
        assert!(!dir.exists(), "the spill cleans up");
    }
}
