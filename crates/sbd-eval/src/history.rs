//! The history database: SQLite (embedded, one file) with versioned schema migrations.
//!
//! It stores what evaluation and production monitoring record over time. Migrations are
//! applied in order on open and recorded in `schema_migrations`; opening a database written
//! by a newer sbd (a migration this build does not know) is refused rather than misread.
//!
//! Tables so far:
//! - `eval_runs`, `eval_results`, `eval_metrics` (migration 2): evaluation runs, their
//!   per-task results (the full result as JSON) and metrics with intervals, overall and per suite.
//! - `feedback` (migration 3): human ratings of evaluated answers (USS, the human part of SEQ).
//! - `monitor_events`: production generations ingested for compliance tracking — when, which
//!   model, language, whether the code was compliant (no active finding at medium or above),
//!   the number of findings, the override status, whether an explanation came with it, and
//!   the rules that fired (`monitor_findings`). Code bodies are not stored.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
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
    // 2: evaluation runs, per-task results and metrics
    "CREATE TABLE eval_runs (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        backend TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        repair INTEGER NOT NULL,
        tests_run INTEGER NOT NULL,
        tasks INTEGER NOT NULL
    );
    CREATE TABLE eval_results (
        run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        suite TEXT NOT NULL,
        language TEXT NOT NULL,
        cwe INTEGER,
        secure INTEGER NOT NULL,
        functional INTEGER,
        result_json TEXT NOT NULL,
        PRIMARY KEY (run_id, task_id)
    );
    CREATE TABLE eval_metrics (
        run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        n INTEGER NOT NULL,
        lo REAL,
        hi REAL,
        PRIMARY KEY (run_id, scope, name)
    );
    CREATE INDEX eval_runs_time ON eval_runs(finished_at);",
    // 3: human feedback (expert review and user ratings) on evaluated answers
    "CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        run_id TEXT,
        task_id TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        role TEXT NOT NULL,
        explanation_clear INTEGER,
        explanation_accurate INTEGER,
        override_intuitive INTEGER,
        prefers_secure_default INTEGER,
        comment TEXT,
        imported_at TEXT NOT NULL
    );
    CREATE INDEX feedback_run ON feedback(run_id);",
    // 4: several independent samples per task (pass@k): the sample joins the results' key
    "CREATE TABLE eval_results_v4 (
        run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        suite TEXT NOT NULL,
        language TEXT NOT NULL,
        cwe INTEGER,
        secure INTEGER NOT NULL,
        functional INTEGER,
        result_json TEXT NOT NULL,
        sample INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, task_id, sample)
    );
    INSERT INTO eval_results_v4 (run_id, task_id, suite, language, cwe, secure, functional, result_json, sample)
        SELECT run_id, task_id, suite, language, cwe, secure, functional, result_json, 0 FROM eval_results;
    DROP TABLE eval_results;
    ALTER TABLE eval_results_v4 RENAME TO eval_results;",
];

/// An open history database.
pub struct History {
    conn: Connection,
    path: String,
}

/// One metric of a stored run, for trends (SET).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricPoint {
    pub run_id: String,
    pub finished_at: String,
    pub suite: String,
    pub backend: String,
    pub name: String,
    pub value: Option<f64>,
    pub n: i64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// One human rating of an evaluated answer (`sbd eval import-feedback`). Each question is
/// optional; an unanswered one is not counted.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Default)]
pub struct Feedback {
    #[serde(default)]
    pub run_id: Option<String>,
    pub task_id: String,
    pub reviewer: String,
    /// `expert` or `user`.
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub explanation_clear: Option<bool>,
    #[serde(default)]
    pub explanation_accurate: Option<bool>,
    #[serde(default)]
    pub override_intuitive: Option<bool>,
    #[serde(default)]
    pub prefers_secure_default: Option<bool>,
    #[serde(default)]
    pub comment: Option<String>,
}

fn default_role() -> String {
    "user".into()
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
            let tx =
                self.conn.transaction().map_err(|e| HistoryError::Sqlite { path: self.path.clone(), source: e })?;
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

    /// Stores a finished evaluation run (replacing one with the same id).
    pub fn add_run(
        &mut self,
        run: &crate::run::RunSummary,
        results: &[crate::oracle::TaskResult],
    ) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| HistoryError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute("DELETE FROM eval_runs WHERE id = ?1", params![run.id]).map_err(e)?;
        tx.execute(
            "INSERT INTO eval_runs (id, suite, backend, started_at, finished_at, repair, tests_run, tasks)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.id,
                run.suite,
                run.backend,
                run.started_at,
                run.finished_at,
                run.repair,
                run.tests_run,
                run.tasks as i64
            ],
        )
        .map_err(e)?;
        for r in results {
            let json = serde_json::to_string(r).unwrap_or_default();
            let functional = (r.tests_total > 0).then(|| r.functional());
            tx.execute(
                "INSERT OR REPLACE INTO eval_results (run_id, task_id, suite, language, cwe, secure, functional, result_json, sample)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![run.id, r.task_id, r.suite, r.language, r.cwe, r.secure, functional, json, r.sample],
            )
            .map_err(e)?;
        }
        let scopes =
            std::iter::once(("all".to_string(), &run.metrics)).chain(run.per_suite.iter().map(|(s, m)| (s.clone(), m)));
        for (scope, metrics) in scopes {
            for m in metrics {
                tx.execute(
                    "INSERT OR REPLACE INTO eval_metrics (run_id, scope, name, value, n, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![run.id, scope, m.name, m.value, m.n as i64, m.lo, m.hi],
                )
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Metric values over time (oldest first), optionally for one metric name (SET).
    pub fn metric_history(&self, name: Option<&str>) -> Result<Vec<MetricPoint>, HistoryError> {
        let e = |source| HistoryError::Sqlite { path: self.path.clone(), source };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.finished_at, r.suite, r.backend, m.name, m.value, m.n, m.lo, m.hi
                 FROM eval_metrics m JOIN eval_runs r ON r.id = m.run_id
                 WHERE m.scope = 'all' AND (?1 IS NULL OR m.name = ?1)
                 ORDER BY r.finished_at, r.id, m.name",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map(params![name], |r| {
                Ok(MetricPoint {
                    run_id: r.get(0)?,
                    finished_at: r.get(1)?,
                    suite: r.get(2)?,
                    backend: r.get(3)?,
                    name: r.get(4)?,
                    value: r.get(5)?,
                    n: r.get(6)?,
                    lo: r.get(7)?,
                    hi: r.get(8)?,
                })
            })
            .map_err(e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)?;
        Ok(rows)
    }

    /// The per-task results of a stored run.
    pub fn run_results(&self, run_id: &str) -> Result<Vec<crate::oracle::TaskResult>, HistoryError> {
        let e = |source| HistoryError::Sqlite { path: self.path.clone(), source };
        let mut stmt =
            self.conn.prepare("SELECT result_json FROM eval_results WHERE run_id = ?1 ORDER BY rowid").map_err(e)?;
        let texts = stmt
            .query_map(params![run_id], |r| r.get::<_, String>(0))
            .map_err(e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)?;
        Ok(texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
    }

    /// Stores human ratings.
    pub fn add_feedback(&mut self, items: &[Feedback], imported_at: &str) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| HistoryError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(e)?;
        for f in items {
            tx.execute(
                "INSERT INTO feedback (run_id, task_id, reviewer, role, explanation_clear, explanation_accurate, override_intuitive, prefers_secure_default, comment, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    f.run_id,
                    f.task_id,
                    f.reviewer,
                    f.role,
                    f.explanation_clear,
                    f.explanation_accurate,
                    f.override_intuitive,
                    f.prefers_secure_default,
                    f.comment,
                    imported_at
                ],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    /// Metrics from human ratings (for one run, or all when `run_id` is `None`):
    /// USS (explanations clear and helpful), USS.override (override workflow intuitive),
    /// USS.prefers-default (prefers secure-by-default), SEQ.human (experts: explanation
    /// accurate). Wilson intervals.
    pub fn feedback_metrics(&self, run_id: Option<&str>) -> Result<Vec<crate::metrics::Metric>, HistoryError> {
        let e = |source| HistoryError::Sqlite { path: self.path.clone(), source };
        let mut out = Vec::new();
        for (name, col, role) in [
            ("USS", "explanation_clear", None),
            ("USS.override", "override_intuitive", None),
            ("USS.prefers-default", "prefers_secure_default", None),
            ("SEQ.human", "explanation_accurate", Some("expert")),
        ] {
            let sql = format!(
                "SELECT COALESCE(SUM({col}), 0), COUNT({col}) FROM feedback WHERE (?1 IS NULL OR run_id = ?1) AND (?2 IS NULL OR role = ?2)"
            );
            let (k, n): (i64, i64) =
                self.conn.query_row(&sql, params![run_id, role], |r| Ok((r.get(0)?, r.get(1)?))).map_err(e)?;
            out.push(crate::metrics::Metric::proportion(name, k.max(0) as usize, n.max(0) as usize));
        }
        Ok(out)
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
            h.add_monitor_events(&[
                ev("a", true, "none", &[]),
                ev("a", false, "invalid", &["PY001", "PY002"]),
                ev("b", false, "justified", &["PY001"]),
            ])
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
        // Evaluation runs round-trip and feed the trend query.
        let mut h = History::open(&path).unwrap();
        let r = crate::oracle::TaskResult {
            task_id: "t1".into(),
            suite: "s".into(),
            language: "c".into(),
            secure: true,
            ..Default::default()
        };
        let run = crate::run::RunSummary {
            id: "r1".into(),
            suite: "s".into(),
            backend: "b".into(),
            started_at: "2026-11-25T00:00:00Z".into(),
            finished_at: "2026-11-25T00:01:00Z".into(),
            repair: 0,
            tests_run: false,
            tasks: 1,
            metrics: crate::metrics::compute(std::slice::from_ref(&r)),
            per_suite: Vec::new(),
        };
        h.add_run(&run, std::slice::from_ref(&r)).unwrap();
        h.add_run(&run, std::slice::from_ref(&r)).unwrap();
        let pts = h.metric_history(Some("SCR")).unwrap();
        assert_eq!(pts.len(), 1);
        assert_eq!((pts[0].value, pts[0].n), (Some(1.0), 1));
        assert_eq!(h.run_results("r1").unwrap(), vec![r]);
        drop(h);
        // Human feedback feeds USS.
        let mut h = History::open(&path).unwrap();
        let fb = |clear: Option<bool>| Feedback {
            run_id: Some("r1".into()),
            task_id: "t1".into(),
            reviewer: "a".into(),
            role: "user".into(),
            explanation_clear: clear,
            ..Default::default()
        };
        h.add_feedback(&[fb(Some(true)), fb(Some(true)), fb(Some(false)), fb(None)], "2026-11-25T00:00:00Z").unwrap();
        let m = h.feedback_metrics(Some("r1")).unwrap();
        assert_eq!((m[0].name.as_str(), m[0].value, m[0].n), ("USS", Some(2.0 / 3.0), 3));
        assert_eq!(m[1].n, 0);
        assert_eq!(h.feedback_metrics(Some("other")).unwrap()[0].n, 0);
        drop(h);
        // A database from the future is refused.
        let conn = Connection::open(&path).unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'x')", []).unwrap();
        drop(conn);
        assert!(matches!(History::open(&path), Err(HistoryError::TooNew { found: 99, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
