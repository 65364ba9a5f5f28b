//! The history database: SQLite (embedded, one file) with versioned schema migrations.
//!
//! It stores what evaluation and production monitoring record over time. Migrations are
//! applied in order on open and recorded in `schema_migrations`; opening a database written
//! by a newer sbd (a migration this build does not know) is refused rather than misread.
//!
//! Tables so far:
//! - `monitor_events`: production generations ingested for compliance tracking — when, which
//!   model, language, whether the code was compliant (no active finding at medium or above),
//!   the number of findings, the override status, whether an explanation came with it, and
//!   the rules that fired (`monitor_findings`). Code bodies are not stored.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// Errors of the history database.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history database {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error(
        "history database {path} has schema version {found}, newer than this sbd knows ({known}); use a newer sbd or another --db"
    )]
    TooNew { path: String, found: i64, known: i64 },
}

const MIGRATIONS: &[&str] = &[
    // 1: production monitoring
    "CREATE TABLE monitor_events (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        model TEXT,
        language TEXT NOT NULL,
        compliant INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        override_status TEXT NOT NULL,
        has_explanation INTEGER NOT NULL,
        explanation_names_weakness INTEGER NOT NULL
    );
    CREATE TABLE monitor_findings (
        event_id INTEGER NOT NULL REFERENCES monitor_events(id),
        rule TEXT NOT NULL,
        severity TEXT NOT NULL
    );
    CREATE INDEX monitor_findings_rule ON monitor_findings(rule);
    CREATE INDEX monitor_events_time ON monitor_events(received_at);",
];

/// An open history database.
pub struct History {
    conn: Connection,
    path: String,
}

/// One monitored generation.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorEvent {
    pub received_at: String,
    pub model: Option<String>,
    pub language: String,
    pub compliant: bool,
    pub override_status: String,
    pub has_explanation: bool,
    pub explanation_names_weakness: bool,
    /// (rule id, severity) of active findings.
    pub findings: Vec<(String, String)>,
}

/// Totals over monitored generations.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonitorSummary {
    pub events: i64,
    pub compliant: i64,
    pub compliance_rate: Option<f64>,
    pub with_override: i64,
    pub override_rate: Option<f64>,
    pub invalid_overrides: i64,
    pub with_explanation: i64,
    pub explanation_names_weakness_rate: Option<f64>,
    /// (rule, count), most frequent first.
    pub top_rules: Vec<(String, i64)>,
    /// (model, events, compliance rate).
    pub by_model: Vec<(String, i64, f64)>,
}

impl History {
    /// Opens (creating if needed) and migrates the database at `path` (`:memory:` works).
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let name = path.display().to_string();
        let err = |source| HistoryError::Sqlite { path: name.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        let mut h = History { conn, path: name };
        h.migrate()?;
        Ok(h)
    }

    fn err(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sqlite { path: self.path.clone(), source }
    }

    /// The schema version after migration.
    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            .map_err(|e| self.err(e))?;
        let current = self.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(HistoryError::TooNew { path: self.path.clone(), found: current, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self.conn.transaction().map_err(|e| HistoryError::Sqlite { path: self.path.clone(), source: e })?;
            tx.execute_batch(sql).map_err(|e| HistoryError::Sqlite { path: self.path.clone(), source: e })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, datetime('now'))",
                params![i as i64 + 1],
            )
            .map_err(|e| HistoryError::Sqlite { path: self.path.clone(), source: e })?;
            tx.commit().map_err(|e| HistoryError::Sqlite { path: self.path.clone(), source: e })?;
        }
        Ok(())
    }

    /// Stores monitored generations in one transaction.
    pub fn add_monitor_events(&mut self, events: &[MonitorEvent]) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| HistoryError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(e)?;
        for ev in events {
            tx.execute(
                "INSERT INTO monitor_events (received_at, model, language, compliant, findings, override_status, has_explanation, explanation_names_weakness)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    ev.received_at,
                    ev.model,
                    ev.language,
                    ev.compliant,
                    ev.findings.len() as i64,
                    ev.override_status,
                    ev.has_explanation,
                    ev.explanation_names_weakness
                ],
            )
            .map_err(e)?;
            let id = tx.last_insert_rowid();
            for (rule, severity) in &ev.findings {
                tx.execute(
                    "INSERT INTO monitor_findings (event_id, rule, severity) VALUES (?1, ?2, ?3)",
                    params![id, rule, severity],
                )
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Totals over all monitored generations.
    pub fn monitor_summary(&self) -> Result<MonitorSummary, HistoryError> {
        let e = |source| HistoryError::Sqlite { path: self.path.clone(), source };
        let (events, compliant, with_override, invalid, with_expl, names): (i64, i64, i64, i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(compliant), 0), COALESCE(SUM(override_status != 'none'), 0),
                        COALESCE(SUM(override_status = 'invalid'), 0), COALESCE(SUM(has_explanation), 0),
                        COALESCE(SUM(explanation_names_weakness), 0)
                 FROM monitor_events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .map_err(e)?;
        let mut stmt = self
            .conn
            .prepare("SELECT rule, COUNT(*) FROM monitor_findings GROUP BY rule ORDER BY COUNT(*) DESC, rule LIMIT 20")
            .map_err(e)?;
        let top_rules = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT COALESCE(model, '(unnamed)'), COUNT(*), AVG(compliant) FROM monitor_events GROUP BY 1 ORDER BY 2 DESC",
            )
            .map_err(e)?;
        let by_model = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, f64>(2)?)))
            .map_err(e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)?;
        let rate = |n: i64, d: i64| (d > 0).then(|| n as f64 / d as f64);
        Ok(MonitorSummary {
            events,
            compliant,
            compliance_rate: rate(compliant, events),
            with_override,
            override_rate: rate(with_override, events),
            invalid_overrides: invalid,
            with_explanation: with_expl,
            explanation_names_weakness_rate: rate(names, with_expl),
            top_rules,
            by_model,
        })
    }

    /// The newest event time, if any.
    pub fn last_event_at(&self) -> Result<Option<String>, HistoryError> {
        self.conn
            .query_row("SELECT MAX(received_at) FROM monitor_events", [], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(model: &str, compliant: bool, ov: &str, rules: &[&str]) -> MonitorEvent {
        MonitorEvent {
            received_at: "2026-11-25T00:00:00Z".into(),
            model: Some(model.into()),
            language: "python".into(),
            compliant,
            override_status: ov.into(),
            has_explanation: true,
            explanation_names_weakness: compliant,
            findings: rules.iter().map(|r| (r.to_string(), "high".to_string())).collect(),
        }
    }

    #[test]
    fn migrates_stores_and_summarises() {
        let dir = std::env::temp_dir().join(format!("sbd-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.sqlite");
        {
            let mut h = History::open(&path).unwrap();
            assert_eq!(h.schema_version().unwrap(), MIGRATIONS.len() as i64);
            h.add_monitor_events(&[ev("a", true, "none", &[]), ev("a", false, "invalid", &["PY001", "PY002"]), ev("b", false, "justified", &["PY001"])])
                .unwrap();
        }
        // Reopening keeps data and does not re-run migrations.
        let h = History::open(&path).unwrap();
        let s = h.monitor_summary().unwrap();
        assert_eq!((s.events, s.compliant, s.with_override, s.invalid_overrides), (3, 1, 2, 1));
        assert_eq!(s.compliance_rate, Some(1.0 / 3.0));
        assert_eq!(s.top_rules[0], ("PY001".to_string(), 2));
        assert_eq!(s.by_model[0].0, "a");
        assert_eq!(s.explanation_names_weakness_rate, Some(1.0 / 3.0));
        drop(h);
        // A database from the future is refused.
        let conn = Connection::open(&path).unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'x')", []).unwrap();
        drop(conn);
        assert!(matches!(History::open(&path), Err(HistoryError::TooNew { found: 99, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
