//! The work folder's chunk files (`DIR/.work/chunk-NNNNNN.rows.zst`): what one chunk of a
//! build produced, read back by the merge.
//!
//! A chunk is written once, in one go, and renamed into place ([`write`]): it exists complete
//! or not at all. Inside the zstd frame: the magic line `sbd-chunk 1`, the [`ChunkMeta`] as a
//! length-prefixed JSON object, then the rows in a length-prefixed binary layout (strings as
//! `u32` length + UTF-8, numbers little-endian, options with a tag byte) in [`Record`]'s
//! field order. Binary rather than JSON because the rows' big fields — code, the ANRF instance,
//! findings — are text full of quotes that JSON would escape on the way in and scan on the way
//! out; the merge reads every chunk twice.
use std::path::Path;

use crate::Error;
use crate::record::{Record, Tag, VariantKind};

const MAGIC: &[u8] = b"sbd-chunk 1\n";

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn opt_u32(&mut self, v: Option<u32>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u32(v);
            }
            None => self.u8(0),
        }
    }
    fn bool(&mut self, b: bool) {
        self.u8(u8::from(b));
    }
    fn opt_bool(&mut self, b: Option<bool>) {
        self.u8(match b {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
}

/// Appends one record.
fn put(o: &mut Out, r: &Record) {
    o.str(&r.id);
    o.str(&r.group);
    o.str(&r.split);
    o.str(&r.source);
    o.str(&r.language);
    o.str(&r.unit);
    o.u8(VariantKind::ALL.iter().position(|v| *v == r.variant).unwrap_or(0) as u8);
    o.opt_str(&r.repo);
    o.opt_str(&r.path);
    o.opt_str(&r.commit);
    o.opt_str(&r.licence);
    o.u32(r.start_line);
    o.opt_str(&r.task);
    o.str(&r.code);
    o.u32(r.lines);
    o.u32(r.bytes);
    o.opt_u32(r.cwe_label);
    o.opt_bool(r.label_claimed);
    o.bool(r.vulnerable);
    o.bool(r.label_verified);
    o.u32(r.cwes.len() as u32);
    for c in &r.cwes {
        o.u32(*c);
    }
    o.u32(r.rules.len() as u32);
    for s in &r.rules {
        o.str(s);
    }
    o.str(&r.findings);
    o.str(&r.facts);
    o.bool(r.memory_safe);
    o.bool(r.type_safe);
    o.bool(r.resource_bounded);
    o.bool(r.sandboxed);
    o.str(&r.override_status);
    o.u32(r.tags.len() as u32);
    for t in &r.tags {
        o.u64(t.start as u64);
        o.u64(t.end as u64);
        o.str(&t.tag);
        o.str(&t.source);
    }
    o.str(&r.explanation_short);
    o.str(&r.explanation);
    o.str(&r.anrf);
    o.bool(r.anrf_valid);
    o.str(&r.complexity);
    o.opt_str(&r.parent);
    o.opt_str(&r.operator);
}

struct In<'a> {
    b: &'a [u8],
    at: usize,
}

type R<T> = Result<T, &'static str>;

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let s = self.b.get(self.at..self.at + n).ok_or("truncated")?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> R<u32> {
        let mut w = [0u8; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(w))
    }
    fn u64(&mut self) -> R<u64> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }
    fn str(&mut self) -> R<String> {
        let n = self.u32()? as usize;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| "text that is not UTF-8")
    }
    fn opt_str(&mut self) -> R<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err("bad option tag"),
        }
    }
    fn opt_u32(&mut self) -> R<Option<u32>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.u32().map(Some),
            _ => Err("bad option tag"),
        }
    }
    fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("bad boolean"),
        }
    }
    fn opt_bool(&mut self) -> R<Option<bool>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(false)),
            2 => Ok(Some(true)),
            _ => Err("bad option tag"),
        }
    }
    fn count(&mut self) -> R<usize> {
        let n = self.u32()? as usize;
        // Every element takes at least four bytes: a count larger than what is left is damage.
        if n > (self.b.len() - self.at) / 4 + 1 {
            return Err("bad count");
        }
        Ok(n)
    }
}

impl In<'_> {
    fn skip_str(&mut self) -> R<()> {
        let n = self.u32()? as usize;
        self.take(n).map(|_| ())
    }
    fn skip_opt_str(&mut self) -> R<()> {
        match self.u8()? {
            0 => Ok(()),
            1 => self.skip_str(),
            _ => Err("bad option tag"),
        }
    }
}

/// The fields of a row the merge's first pass needs: deduplication, groups, resampling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub group: String,
    pub source: String,
    pub language: String,
    pub variant: VariantKind,
    pub code: String,
    pub cwe_label: Option<u32>,
    pub first_cwe: Option<u32>,
    pub label_claimed: Option<bool>,
    pub override_status: String,
}

fn get_key(i: &mut In) -> R<Key> {
    i.skip_str()?; // id
    let group = i.str()?;
    i.skip_str()?; // split
    let source = i.str()?;
    let language = i.str()?;
    i.skip_str()?; // unit
    let variant = *VariantKind::ALL.get(i.u8()? as usize).ok_or("bad variant")?;
    for _ in 0..4 {
        i.skip_opt_str()?; // repo, path, commit, licence
    }
    i.u32()?; // start_line
    i.skip_opt_str()?; // task
    let code = i.str()?;
    i.u32()?;
    i.u32()?;
    let cwe_label = i.opt_u32()?;
    let label_claimed = i.opt_bool()?;
    i.bool()?;
    i.bool()?;
    let n = i.count()?;
    let mut first_cwe = None;
    for k in 0..n {
        let c = i.u32()?;
        if k == 0 {
            first_cwe = Some(c);
        }
    }
    let n = i.count()?;
    for _ in 0..n {
        i.skip_str()?; // rules
    }
    i.skip_str()?; // findings
    i.skip_str()?; // facts
    for _ in 0..4 {
        i.bool()?;
    }
    let override_status = i.str()?;
    let n = i.count()?;
    for _ in 0..n {
        i.u64()?;
        i.u64()?;
        i.skip_str()?;
        i.skip_str()?;
    }
    for _ in 0..3 {
        i.skip_str()?; // explanations, anrf
    }
    i.bool()?;
    i.skip_str()?; // complexity
    i.skip_opt_str()?;
    i.skip_opt_str()?;
    Ok(Key { group, source, language, variant, code, cwe_label, first_cwe, label_claimed, override_status })
}

fn get(i: &mut In) -> R<Record> {
    Ok(Record {
        id: i.str()?,
        group: i.str()?,
        split: i.str()?,
        source: i.str()?,
        language: i.str()?,
        unit: i.str()?,
        variant: *VariantKind::ALL.get(i.u8()? as usize).ok_or("bad variant")?,
        repo: i.opt_str()?,
        path: i.opt_str()?,
        commit: i.opt_str()?,
        licence: i.opt_str()?,
        start_line: i.u32()?,
        task: i.opt_str()?,
        code: i.str()?,
        lines: i.u32()?,
        bytes: i.u32()?,
        cwe_label: i.opt_u32()?,
        label_claimed: i.opt_bool()?,
        vulnerable: i.bool()?,
        label_verified: i.bool()?,
        cwes: {
            let n = i.count()?;
            (0..n).map(|_| i.u32()).collect::<R<Vec<u32>>>()?
        },
        rules: {
            let n = i.count()?;
            (0..n).map(|_| i.str()).collect::<R<Vec<String>>>()?
        },
        findings: i.str()?,
        facts: i.str()?,
        memory_safe: i.bool()?,
        type_safe: i.bool()?,
        resource_bounded: i.bool()?,
        sandboxed: i.bool()?,
        override_status: i.str()?,
        tags: {
            let n = i.count()?;
            let mut tags = Vec::with_capacity(n);
            for _ in 0..n {
                tags.push(Tag { start: i.u64()? as usize, end: i.u64()? as usize, tag: i.str()?, source: i.str()? });
            }
            tags
        },
        explanation_short: i.str()?,
        explanation: i.str()?,
        anrf: i.str()?,
        anrf_valid: i.bool()?,
        complexity: i.str()?,
        parent: i.opt_str()?,
        operator: i.opt_str()?,
    })
}

/// Writes a chunk atomically: `meta` (any JSON-serialisable summary) and `rows`.
pub fn write(path: &Path, meta: &impl serde::Serialize, rows: &[Record]) -> Result<(), Error> {
    let mut o = Out(Vec::with_capacity(rows.len() * 4096 + 1024));
    o.0.extend_from_slice(MAGIC);
    let m = serde_json::to_string(meta).map_err(|e| Error::Config(e.to_string()))?;
    o.str(&m);
    o.u32(rows.len() as u32);
    for r in rows {
        put(&mut o, r);
    }
    // Level 1: these files are read twice and deleted with the work folder.
    let bytes = zstd::stream::encode_all(&o.0[..], 1).map_err(|e| Error::io(path, e))?;
    crate::output::write_atomic(path, &bytes)
}

/// Reads a chunk: its meta (JSON text) and then each record, in order.
pub fn read(path: &Path, f: impl FnMut(Record) -> Result<(), Error>) -> Result<String, Error> {
    read_rows(path, get, true, f)
}

/// Reads a chunk's rows as [`Key`]s (the big text fields other than the code are skipped).
pub fn read_keys(path: &Path, f: impl FnMut(Key) -> Result<(), Error>) -> Result<String, Error> {
    read_rows(path, get_key, false, f)
}

/// Decodes a chunk, returns its meta and hands each row, as `row` reads it, to `f`; with
/// `whole`, bytes after the last row are an error.
fn read_rows<T>(
    path: &Path,
    row: fn(&mut In) -> R<T>,
    whole: bool,
    mut f: impl FnMut(T) -> Result<(), Error>,
) -> Result<String, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let bytes = zstd::stream::decode_all(file).map_err(|e| Error::io(path, e))?;
    let bad = |row: usize, m: &str| Error::Record {
        path: path.display().to_string(),
        line: row,
        message: format!("damaged chunk ({m}); delete it and run the build again to redo it"),
    };
    let body = bytes.strip_prefix(MAGIC).ok_or_else(|| bad(0, "not a chunk file of this version"))?;
    let mut i = In { b: body, at: 0 };
    let meta = i.str().map_err(|m| bad(0, m))?;
    let n = i.u32().map_err(|m| bad(0, m))? as usize;
    for r in 1..=n {
        f(row(&mut i).map_err(|m| bad(r, m))?)?;
    }
    if whole && i.at != body.len() {
        return Err(bad(n, "bytes after the last row"));
    }
    Ok(meta)
}

/// Only the meta of a chunk (it comes first).
pub fn meta(path: &Path) -> Result<String, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut dec = zstd::stream::Decoder::new(file).map_err(|e| Error::io(path, e))?;
    let mut head = vec![0u8; MAGIC.len() + 4];
    std::io::Read::read_exact(&mut dec, &mut head).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::Record { path: path.display().to_string(), line: 0, message: m.to_string() };
    if !head.starts_with(MAGIC) {
        return Err(bad("not a chunk file of this version"));
    }
    let mut w = [0u8; 4];
    w.copy_from_slice(&head[MAGIC.len()..]);
    let mut m = vec![0u8; u32::from_le_bytes(w) as usize];
    std::io::Read::read_exact(&mut dec, &mut m).map_err(|e| Error::io(path, e))?;
    String::from_utf8(m).map_err(|_| bad("meta is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u32) -> Record {
        Record {
            id: format!("t/{i}"),
            group: "g".into(),
            split: String::new(),
            source: "tree".into(),
            language: "python".into(),
            unit: "function".into(),
            variant: VariantKind::ALL[i as usize % 7],
            repo: Some("r".into()),
            path: None,
            commit: Some("c".into()),
            licence: None,
            start_line: i,
            task: Some("do \"it\"\n".into()),
            code: "def f():\n    return 'é'\n".into(),
            lines: 2,
            bytes: 24,
            cwe_label: Some(79),
            label_claimed: if i.is_multiple_of(2) { Some(true) } else { None },
            vulnerable: true,
            label_verified: false,
            cwes: vec![79, 80],
            rules: vec!["PY001".into()],
            findings: "[]".into(),
            facts: "[{\"a\":1}]".into(),
            memory_safe: true,
            type_safe: false,
            resource_bounded: true,
            sandboxed: false,
            override_status: "none".into(),
            tags: vec![Tag { start: 1, end: 5, tag: "finding:injection".into(), source: "PY001".into() }],
            explanation_short: "s".into(),
            explanation: "l".into(),
            anrf: "{}".into(),
            anrf_valid: true,
            complexity: "simple".into(),
            parent: None,
            operator: Some("op".into()),
        }
    }

    #[test]
    fn round_trips_and_damage_names_the_row() {
        let d = std::env::temp_dir().join(format!("sbd-chunk-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("chunk-000000.rows.zst");
        let rows: Vec<Record> = (0..20).map(record).collect();
        write(&p, &serde_json::json!({"chunk": 0, "rows": 20}), &rows).unwrap();
        assert_eq!(meta(&p).unwrap(), r#"{"chunk":0,"rows":20}"#);
        let mut back = Vec::new();
        let m = read(&p, |r| {
            back.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(m, r#"{"chunk":0,"rows":20}"#);
        assert_eq!(back, rows);
        let mut keys = Vec::new();
        read_keys(&p, |k| {
            keys.push(k);
            Ok(())
        })
        .unwrap();
        assert_eq!(keys.len(), 20);
        assert_eq!(
            (keys[3].variant, keys[3].first_cwe, keys[3].code.as_str()),
            (rows[3].variant, Some(79), rows[3].code.as_str())
        );
        assert_eq!(keys[2].label_claimed, Some(true));
        // A truncated body is reported, not a panic.
        let mut raw = zstd::stream::decode_all(std::fs::File::open(&p).unwrap()).unwrap();
        raw.truncate(raw.len() - 10);
        std::fs::write(&p, zstd::stream::encode_all(&raw[..], 1).unwrap()).unwrap();
        let e = read(&p, |_| Ok(())).unwrap_err().to_string();
        assert!(e.contains(":20: damaged chunk (truncated)"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
