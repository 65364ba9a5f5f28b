//! Records to and from zstd-compressed Parquet (`parquet` + `arrow-array`, no `arrow`
//! umbrella crate). Column order and names are those of [`Record`]; lists of CWEs and rule
//! ids are Parquet lists; findings, facts, tags and the ANRF instance are JSON strings.
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, UInt32Builder};
use arrow_array::{Array, ArrayRef, BooleanArray, ListArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::record::{Record, VariantKind};

fn perr(path: &Path, e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Parquet { path: path.display().to_string(), message: e.to_string() }
}

/// The Arrow schema of a dataset.
pub fn schema() -> SchemaRef {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let u = |n: &str, null: bool| Field::new(n, DataType::UInt32, null);
    let b = |n: &str, null: bool| Field::new(n, DataType::Boolean, null);
    Arc::new(Schema::new(vec![
        s("id", false),
        s("group", false),
        s("split", false),
        s("source", false),
        s("language", false),
        s("unit", false),
        s("variant", false),
        s("repo", true),
        s("path", true),
        s("commit", true),
        s("licence", true),
        u("start_line", false),
        s("task", true),
        s("code", false),
        u("lines", false),
        u("bytes", false),
        u("cwe_label", true),
        b("label_claimed", true),
        b("vulnerable", false),
        b("label_verified", false),
        Field::new("cwes", DataType::List(Arc::new(Field::new("item", DataType::UInt32, true))), false),
        Field::new("rules", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        s("findings", false),
        s("facts", false),
        b("memory_safe", false),
        b("type_safe", false),
        b("resource_bounded", false),
        b("sandboxed", false),
        s("override_status", false),
        s("tags", false),
        s("explanation_short", false),
        s("explanation", false),
        s("anrf", false),
        b("anrf_valid", false),
        s("complexity", false),
        s("parent", true),
        s("operator", true),
    ]))
}

/// Builds one batch from records.
pub fn batch(records: &[Record]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    fn st<'a>(r: &'a [Record], f: impl Fn(&'a Record) -> &'a str) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(r.iter().map(f)))
    }
    fn os<'a>(r: &'a [Record], f: impl Fn(&'a Record) -> Option<&'a str>) -> ArrayRef {
        Arc::new(r.iter().map(f).collect::<StringArray>())
    }
    fn u<'a>(r: &'a [Record], f: impl Fn(&'a Record) -> u32) -> ArrayRef {
        Arc::new(UInt32Array::from_iter_values(r.iter().map(f)))
    }
    fn b<'a>(r: &'a [Record], f: impl Fn(&'a Record) -> bool) -> ArrayRef {
        Arc::new(r.iter().map(|x| Some(f(x))).collect::<BooleanArray>())
    }
    let mut cwes = ListBuilder::new(UInt32Builder::new());
    let mut rules = ListBuilder::new(StringBuilder::new());
    for x in records {
        for c in &x.cwes {
            cwes.values().append_value(*c);
        }
        cwes.append(true);
        for r in &x.rules {
            rules.values().append_value(r);
        }
        rules.append(true);
    }
    let tags: Vec<String> = records.iter().map(|x| serde_json::to_string(&x.tags).unwrap_or_default()).collect();
    let columns: Vec<ArrayRef> = vec![
        st(records, |x| &x.id),
        st(records, |x| &x.group),
        st(records, |x| &x.split),
        st(records, |x| &x.source),
        st(records, |x| &x.language),
        st(records, |x| &x.unit),
        st(records, |x| x.variant.name()),
        os(records, |x| x.repo.as_deref()),
        os(records, |x| x.path.as_deref()),
        os(records, |x| x.commit.as_deref()),
        os(records, |x| x.licence.as_deref()),
        u(records, |x| x.start_line),
        os(records, |x| x.task.as_deref()),
        st(records, |x| &x.code),
        u(records, |x| x.lines),
        u(records, |x| x.bytes),
        Arc::new(records.iter().map(|x| x.cwe_label).collect::<UInt32Array>()),
        Arc::new(records.iter().map(|x| x.label_claimed).collect::<BooleanArray>()),
        b(records, |x| x.vulnerable),
        b(records, |x| x.label_verified),
        Arc::new(cwes.finish()),
        Arc::new(rules.finish()),
        st(records, |x| &x.findings),
        st(records, |x| &x.facts),
        b(records, |x| x.memory_safe),
        b(records, |x| x.type_safe),
        b(records, |x| x.resource_bounded),
        b(records, |x| x.sandboxed),
        st(records, |x| &x.override_status),
        Arc::new(StringArray::from_iter_values(tags.iter())),
        st(records, |x| &x.explanation_short),
        st(records, |x| &x.explanation),
        st(records, |x| &x.anrf),
        b(records, |x| x.anrf_valid),
        st(records, |x| &x.complexity),
        os(records, |x| x.parent.as_deref()),
        os(records, |x| x.operator.as_deref()),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// A Parquet file being written; rows are buffered into row groups.
pub struct ShardWriter {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    writer: ArrowWriter<File>,
    buffer: Vec<Record>,
    pub rows: u64,
}

const BATCH: usize = 1024;

/// Text columns whose values rarely repeat.
const UNIQUE_TEXT: &[&str] =
    &["id", "group", "code", "task", "findings", "facts", "tags", "explanation", "explanation_short", "anrf", "parent"];

impl ShardWriter {
    /// Starts `path` (written to a temporary name until [`ShardWriter::finish`]).
    pub fn create(path: &Path) -> Result<ShardWriter, crate::Error> {
        let tmp = super::tmp_path(path);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| crate::Error::io(d, e))?;
        }
        let file = File::create(&tmp).map_err(|e| crate::Error::io(&tmp, e))?;
        let level = ZstdLevel::try_new(3).map_err(|e| perr(path, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(8192))
            .set_created_by(format!("sbd-data {}", env!("CARGO_PKG_VERSION")));
        // Columns of mostly unique text: a dictionary only costs time before parquet gives up
        // on it; zstd does the compressing.
        for c in UNIQUE_TEXT {
            props = props.set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from(*c), false);
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(|e| perr(path, e))?;
        Ok(ShardWriter { path: path.to_path_buf(), tmp, writer, buffer: Vec::with_capacity(BATCH), rows: 0 })
    }

    pub fn push(&mut self, r: Record) -> Result<(), crate::Error> {
        self.buffer.push(r);
        self.rows += 1;
        if self.buffer.len() >= BATCH { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), crate::Error> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let b = batch(&self.buffer).map_err(|e| perr(&self.path, e))?;
        self.writer.write(&b).map_err(|e| perr(&self.path, e))?;
        self.buffer.clear();
        Ok(())
    }

    /// Flushes, closes and renames the file into place.
    pub fn finish(mut self) -> Result<std::path::PathBuf, crate::Error> {
        self.flush()?;
        let file = self.writer.into_inner().map_err(|e| perr(&self.path, e))?;
        file.sync_all().map_err(|e| crate::Error::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| crate::Error::io(&self.path, e))?;
        Ok(self.path)
    }
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T, crate::Error> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| perr(path, format!("column {name} is missing or has the wrong type")))
}

fn variant(name: &str) -> Option<VariantKind> {
    VariantKind::ALL.iter().copied().find(|v| v.name() == name)
}

/// Reads every record of a shard, calling `f` per record (streaming, one batch at a time).
pub fn read(path: &Path, mut f: impl FnMut(Record) -> Result<(), crate::Error>) -> Result<u64, crate::Error> {
    let file = File::open(path).map_err(|e| crate::Error::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| perr(path, e))?
        .with_batch_size(BATCH)
        .build()
        .map_err(|e| perr(path, e))?;
    let mut n = 0;
    for batch in reader {
        let b = batch.map_err(|e| perr(path, e))?;
        let s = |name: &str| col::<StringArray>(&b, name, path);
        let u = |name: &str| col::<UInt32Array>(&b, name, path);
        let bo = |name: &str| col::<BooleanArray>(&b, name, path);
        let l = |name: &str| col::<ListArray>(&b, name, path);
        let (id, group, split, source, language, unit, var) =
            (s("id")?, s("group")?, s("split")?, s("source")?, s("language")?, s("unit")?, s("variant")?);
        let (repo, pth, commit, licence, task, code) =
            (s("repo")?, s("path")?, s("commit")?, s("licence")?, s("task")?, s("code")?);
        let (start_line, lines, bytes, cwe_label) = (u("start_line")?, u("lines")?, u("bytes")?, u("cwe_label")?);
        let (claimed, vulnerable, verified) = (bo("label_claimed")?, bo("vulnerable")?, bo("label_verified")?);
        let (cwes, rules) = (l("cwes")?, l("rules")?);
        let (findings, facts, ovr, tags, short, long, anrf, cx, parent, op) = (
            s("findings")?,
            s("facts")?,
            s("override_status")?,
            s("tags")?,
            s("explanation_short")?,
            s("explanation")?,
            s("anrf")?,
            s("complexity")?,
            s("parent")?,
            s("operator")?,
        );
        let (ms, ts, rb, sb, av) =
            (bo("memory_safe")?, bo("type_safe")?, bo("resource_bounded")?, bo("sandboxed")?, bo("anrf_valid")?);
        let opt = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
        for i in 0..b.num_rows() {
            let cw = cwes.value(i);
            let cw = cw.as_any().downcast_ref::<UInt32Array>().map(|a| a.values().to_vec()).unwrap_or_default();
            let ru = rules.value(i);
            let ru = ru
                .as_any()
                .downcast_ref::<StringArray>()
                .map(|a| (0..a.len()).map(|j| a.value(j).to_string()).collect())
                .unwrap_or_default();
            let rec = Record {
                id: id.value(i).to_string(),
                group: group.value(i).to_string(),
                split: split.value(i).to_string(),
                source: source.value(i).to_string(),
                language: language.value(i).to_string(),
                unit: unit.value(i).to_string(),
                variant: variant(var.value(i))
                    .ok_or_else(|| perr(path, format!("unknown variant {}", var.value(i))))?,
                repo: opt(repo, i),
                path: opt(pth, i),
                commit: opt(commit, i),
                licence: opt(licence, i),
                start_line: start_line.value(i),
                task: opt(task, i),
                code: code.value(i).to_string(),
                lines: lines.value(i),
                bytes: bytes.value(i),
                cwe_label: (!cwe_label.is_null(i)).then(|| cwe_label.value(i)),
                label_claimed: (!claimed.is_null(i)).then(|| claimed.value(i)),
                vulnerable: vulnerable.value(i),
                label_verified: verified.value(i),
                cwes: cw,
                rules: ru,
                findings: findings.value(i).to_string(),
                facts: facts.value(i).to_string(),
                memory_safe: ms.value(i),
                type_safe: ts.value(i),
                resource_bounded: rb.value(i),
                sandboxed: sb.value(i),
                override_status: ovr.value(i).to_string(),
                tags: serde_json::from_str(tags.value(i)).map_err(|e| perr(path, format!("tags: {e}")))?,
                explanation_short: short.value(i).to_string(),
                explanation: long.value(i).to_string(),
                anrf: anrf.value(i).to_string(),
                anrf_valid: av.value(i),
                complexity: cx.value(i).to_string(),
                parent: opt(parent, i),
                operator: opt(op, i),
            };
            f(rec)?;
            n += 1;
        }
    }
    Ok(n)
}
