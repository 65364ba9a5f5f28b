//! `sbd override …` — the override workflow: request, approve, list.
//!
//! A developer asks for an exception where the code is (`request FILE:LINE`): sbd writes the
//! `sbd:allow(RULE, justification="…")` annotation above that line in the language's comment
//! syntax and records a pending request in `.sbd/overrides.json` at the tree's root (the
//! nearest directory with `.git` or `.sbd`, else the current one). Until someone approves it
//! the annotation has no approver, so it suppresses nothing and `sbd scan` reports it. An
//! approver completes it (`approve ID --approver NAME`): the annotation gains `approver`,
//! `approved` (today) and `ticket`, the request is marked approved, and an ANRF `Override`
//! audit event is appended to the registry — and to the unit's ANRF instance with `--anrf`.
//! `list` shows every override in a tree: pending, approved, expired and invalid.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use sbd_scan::{Language, Scanner};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cmd::output::write_atomically;

#[derive(Subcommand)]
pub enum OverrideCommand {
    /// Ask for an override of RULE at FILE:LINE: writes the annotation and records a pending request.
    Request(RequestArgs),
    /// Approve a pending request: completes the annotation and appends the ANRF audit event.
    Approve(ApproveArgs),
    /// Every override in a tree: pending, approved, expired and invalid.
    List(ListArgs),
}

#[derive(Args)]
pub struct RequestArgs {
    /// Where the exception is needed, as FILE:LINE (1-based).
    #[arg(value_name = "FILE:LINE")]
    location: String,
    /// The rule to allow (e.g. C001); `sbd rules` lists them.
    #[arg(long)]
    rule: String,
    /// Why the code cannot be secure by default here.
    #[arg(long)]
    justification: String,
    /// Who asks (default: $USER).
    #[arg(long)]
    requester: Option<String>,
}

#[derive(Args)]
pub struct ApproveArgs {
    /// The request id printed by `sbd override request` (e.g. OVR-3).
    id: String,
    /// Who approves.
    #[arg(long)]
    approver: String,
    /// A ticket or review reference.
    #[arg(long)]
    ticket: Option<String>,
    /// The context of the approval (default: the ticket, or "approved with sbd override").
    #[arg(long)]
    context: Option<String>,
    /// The unit's ANRF instance: the override is recorded in it (all three layers and the audit trail).
    #[arg(long, value_name = "FILE")]
    anrf: Option<PathBuf>,
    /// Where the registry is (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct ListArgs {
    /// Files or directories (default: the current directory).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// An approval older than this many days is reported as expired.
    #[arg(long, default_value_t = 365)]
    max_age_days: i64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// One request in the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    id: String,
    /// Path relative to the registry's root.
    file: String,
    line: usize,
    rule: String,
    justification: String,
    requester: String,
    requested_at: String,
    status: String,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    approved_at: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    version: u32,
    requests: Vec<Request>,
    /// ANRF-shaped audit events (`event_type`, `timestamp`, `actor_id`, `description`).
    audit_trail: Vec<Value>,
}

pub fn run(cmd: OverrideCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OverrideCommand::Request(a) => request(a),
        OverrideCommand::Approve(a) => approve(a),
        OverrideCommand::List(a) => list(a),
    }
}

/// The nearest ancestor holding `.sbd` or `.git`, else `start` itself.
fn find_root(start: &Path) -> PathBuf {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    let mut dir =
        if start.is_dir() { start.clone() } else { start.parent().map(Path::to_path_buf).unwrap_or(start.clone()) };
    loop {
        if dir.join(".sbd").is_dir() || dir.join(".git").exists() {
            return dir;
        }
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => return if start.is_dir() { start } else { start.parent().map(Path::to_path_buf).unwrap_or(start) },
        }
    }
}

fn registry_path(root: &Path) -> PathBuf {
    root.join(".sbd/overrides.json")
}

fn load(root: &Path) -> anyhow::Result<Registry> {
    let p = registry_path(root);
    match std::fs::read_to_string(&p) {
        Ok(text) => {
            serde_json::from_str(&text).with_context(|| format!("{} is not a valid override registry", p.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry { version: 1, ..Registry::default() }),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

fn save(root: &Path, reg: &Registry) -> anyhow::Result<()> {
    let p = registry_path(root);
    std::fs::create_dir_all(p.parent().unwrap_or(root))
        .with_context(|| format!("creating {}", root.join(".sbd").display()))?;
    write_atomically(&p, (serde_json::to_string_pretty(reg)? + "\n").as_bytes())
}

fn comment_prefix(lang: Language) -> &'static str {
    match lang {
        Language::Python => "#",
        _ => "//",
    }
}

fn check_text(what: &str, s: &str) -> anyhow::Result<()> {
    if s.trim().is_empty() {
        bail!("{what} must not be empty");
    }
    if s.contains('"') || s.contains('\n') {
        bail!(
            "{what} may not contain double quotes or newlines (the annotation stores it in a \"…\" string); rephrase it"
        );
    }
    Ok(())
}

fn today() -> String {
    sbd_anrf::time::now_rfc3339()[..10].to_string()
}

fn request(a: RequestArgs) -> anyhow::Result<ExitCode> {
    let (file, line) = a
        .location
        .rsplit_once(':')
        .and_then(|(f, l)| l.parse::<usize>().ok().map(|l| (PathBuf::from(f), l)))
        .ok_or_else(|| anyhow!("`{}` is not FILE:LINE (e.g. src/copy.c:42)", a.location))?;
    check_text("--justification", &a.justification)?;
    let scanner = Scanner::new()?;
    let rule = a.rule.trim().to_ascii_uppercase();
    if scanner.rule(&rule).is_none() {
        bail!("unknown rule `{rule}`; `sbd rules` lists them");
    }
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let lang = Language::detect(&file, Some(&text))
        .ok_or_else(|| anyhow!("cannot tell the language of {}", file.display()))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if line == 0 || line > lines.len() {
        bail!("{} has {} lines; line {line} does not exist", file.display(), lines.len());
    }
    let target = lines[line - 1];
    if line >= 2 && lines[line - 2].contains("sbd:allow(") {
        bail!("{}:{} already has an sbd:allow annotation above it; edit that one", file.display(), line);
    }
    let indent: String = target.chars().take_while(|c| c.is_whitespace() && *c != '\n').collect();
    let annotation =
        format!("{indent}{} sbd:allow({rule}, justification=\"{}\")\n", comment_prefix(lang), a.justification.trim());
    let mut out = String::with_capacity(text.len() + annotation.len());
    for (i, l) in lines.iter().enumerate() {
        if i == line - 1 {
            out.push_str(&annotation);
        }
        out.push_str(l);
    }
    let root = find_root(&file);
    let mut reg = load(&root)?;
    let n = reg.requests.iter().filter_map(|r| r.id.strip_prefix("OVR-")?.parse::<u64>().ok()).max().unwrap_or(0) + 1;
    let id = format!("OVR-{n}");
    let abs = file.canonicalize().unwrap_or(file.clone());
    let rel = abs.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(abs.clone());
    let requester = a.requester.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let now = sbd_anrf::time::now_rfc3339();
    write_atomically(&file, out.as_bytes())?;
    reg.requests.push(Request {
        id: id.clone(),
        file: rel.display().to_string(),
        line: line + 1,
        rule: rule.clone(),
        justification: a.justification.trim().to_string(),
        requester: requester.clone(),
        requested_at: now.clone(),
        status: "pending".into(),
        approver: None,
        approved_at: None,
        ticket: None,
    });
    reg.audit_trail.push(serde_json::json!({
        "event_type": "Modification", "timestamp": now, "actor_id": requester,
        "description": format!("{id} requested: allow {rule} at {}:{} — {}", rel.display(), line + 1, a.justification.trim()),
    }));
    save(&root, &reg)?;
    println!("{id} pending: {}:{} allows {rule}", file.display(), line + 1);
    println!("until approved it suppresses nothing and `sbd scan` reports it; approve with:");
    println!("  sbd override approve {id} --approver NAME [--ticket T]");
    Ok(ExitCode::SUCCESS)
}

fn approve(a: ApproveArgs) -> anyhow::Result<ExitCode> {
    check_text("--approver", &a.approver)?;
    if let Some(t) = &a.ticket {
        check_text("--ticket", t)?;
    }
    let root = match &a.root {
        Some(r) => r.clone(),
        None => find_root(&std::env::current_dir()?),
    };
    let mut reg = load(&root)?;
    let Some(idx) = reg.requests.iter().position(|r| r.id.eq_ignore_ascii_case(&a.id)) else {
        bail!("no request {} in {}; `sbd override list` shows them", a.id, registry_path(&root).display());
    };
    if reg.requests[idx].status != "pending" {
        bail!("{} is already {}", reg.requests[idx].id, reg.requests[idx].status);
    }
    let req = reg.requests[idx].clone();
    // Read the unit's ANRF before changing anything, so a bad path changes nothing.
    let anrf = match &a.anrf {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            let v = sbd_anrf::input::parse_json(&bytes, &sbd_anrf::input::Limits::default())
                .with_context(|| p.display().to_string())?;
            Some((p.clone(), v))
        }
        None => None,
    };
    let file = root.join(&req.file);
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let pending = format!("sbd:allow({}, justification=\"{}\")", req.rule, req.justification);
    let Some(pos) = text.find(&pending) else {
        bail!(
            "the annotation of {} is no longer in {} (was it edited or removed?): expected `{pending}`",
            req.id,
            file.display()
        );
    };
    let date = today();
    let mut done = format!(
        "sbd:allow({}, justification=\"{}\", approver=\"{}\", approved=\"{date}\"",
        req.rule,
        req.justification,
        a.approver.trim()
    );
    if let Some(t) = &a.ticket {
        done.push_str(&format!(", ticket=\"{}\"", t.trim()));
    }
    done.push(')');
    let updated = format!("{}{}{}", &text[..pos], done, &text[pos + pending.len()..]);
    let line = text[..pos].matches('\n').count() + 1;
    write_atomically(&file, updated.as_bytes())?;
    let now = sbd_anrf::time::now_rfc3339();
    let context = a.context.clone().or(a.ticket.clone()).unwrap_or_else(|| "approved with sbd override".into());
    let event = serde_json::json!({
        "event_type": "Override", "timestamp": now, "actor_id": a.approver.trim(),
        "description": format!("{} approved ({context}): allow {} at {}:{line} — {}", req.id, req.rule, req.file, req.justification),
    });
    {
        let r = &mut reg.requests[idx];
        r.status = "approved".into();
        r.approver = Some(a.approver.trim().to_string());
        r.approved_at = Some(now.clone());
        r.ticket = a.ticket.clone();
        r.line = line + 1;
    }
    reg.audit_trail.push(event.clone());
    save(&root, &reg)?;
    if let Some((anrf_path, v)) = anrf {
        record_in_anrf(&anrf_path, v, &req, a.approver.trim(), &now, &context, event)?;
    }
    println!("{} approved by {} on {date}: {}:{} allows {}", req.id, a.approver.trim(), file.display(), line, req.rule);
    Ok(ExitCode::SUCCESS)
}

/// Records the approved override in the unit's ANRF instance (all three layers + audit trail)
/// and checks the result still validates.
fn record_in_anrf(
    path: &Path,
    mut v: Value,
    req: &Request,
    approver: &str,
    now: &str,
    context: &str,
    event: Value,
) -> anyhow::Result<()> {
    let set = |v: &mut Value, ptr: &str, val: Value| -> anyhow::Result<()> {
        let slot = v.pointer_mut(ptr).ok_or_else(|| {
            anyhow!("{}: no {ptr}; is it an ANRF 1.1.0 instance? (`sbd anrf validate`)", path.display())
        })?;
        *slot = val;
        Ok(())
    };
    set(&mut v, "/security/override_status", Value::Bool(true))?;
    set(&mut v, "/security/override_justification", Value::from(req.justification.clone()))?;
    set(
        &mut v,
        "/security/override_approval",
        serde_json::json!({"approver_id": approver, "approval_timestamp": now, "approval_context": context}),
    )?;
    set(
        &mut v,
        "/intent/security_intentions/override_intention",
        serde_json::json!({"allowed": true, "conditions": format!("rule {} at {}:{}", req.rule, req.file, req.line), "justification": req.justification}),
    )?;
    set(&mut v, "/execution/security_enforcement/override_mechanisms/enabled", Value::Bool(true))?;
    match v.pointer_mut("/security/audit_trail") {
        Some(Value::Array(trail)) => trail.push(event),
        _ => bail!("{}: no /security/audit_trail array", path.display()),
    }
    let report = sbd_anrf::validate(&v);
    write_atomically(path, (serde_json::to_string_pretty(&v)? + "\n").as_bytes())?;
    if !report.is_valid() {
        eprintln!(
            "note: {} still has {} ANRF violation(s); run `sbd anrf validate {}`",
            path.display(),
            report.violations.len(),
            path.display()
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct Listed {
    status: &'static str,
    file: String,
    line: usize,
    rules: Vec<String>,
    justification: Option<String>,
    approver: Option<String>,
    approved: Option<String>,
    ticket: Option<String>,
    request: Option<String>,
    problems: Vec<String>,
}

fn days(date: &str) -> Option<i64> {
    sbd_anrf::time::parse_rfc3339(&format!("{date}T00:00:00Z")).map(|s| s.div_euclid(86_400))
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let scanner = Scanner::new()?;
    let today_days = days(&today()).unwrap_or(0);
    let mut out: Vec<Listed> = Vec::new();
    let mut registries: Vec<(PathBuf, Registry)> = Vec::new();
    for p in &a.paths {
        let root = find_root(p);
        if !registries.iter().any(|(r, _)| *r == root) {
            registries.push((root.clone(), load(&root)?));
        }
        for entry in ignore::WalkBuilder::new(p).hidden(true).build().flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path) else { continue };
            if !text.contains("sbd:allow(") {
                continue;
            }
            let Some(lang) = Language::detect(path, Some(&text)) else { continue };
            let report = scanner.scan_path(&text, lang, path.to_str());
            let abs = path.canonicalize().unwrap_or(path.to_path_buf());
            for o in &report.overrides {
                let line = o.span.start_line;
                let request = registries.iter().find_map(|(root, reg)| {
                    let rel = abs.strip_prefix(root).ok()?.display().to_string();
                    reg.requests
                        .iter()
                        .find(|r| {
                            r.file == rel
                                && o.rules.contains(&r.rule)
                                && o.justification.as_deref() == Some(r.justification.as_str())
                        })
                        .map(|r| (r.id.clone(), r.status.clone()))
                });
                let status = if o.valid {
                    match o.approved.as_deref().and_then(days) {
                        Some(d) if today_days - d > a.max_age_days => "expired",
                        _ => "approved",
                    }
                } else if request.as_ref().is_some_and(|(_, s)| s == "pending") {
                    "pending"
                } else {
                    "invalid"
                };
                out.push(Listed {
                    status,
                    file: path.display().to_string(),
                    line,
                    rules: o.rules.clone(),
                    justification: o.justification.clone(),
                    approver: o.approver.clone(),
                    approved: o.approved.clone(),
                    ticket: o.ticket.clone(),
                    request: request.map(|(id, _)| id),
                    problems: o.problems.clone(),
                });
            }
        }
    }
    let count = |s: &str| out.iter().filter(|l| l.status == s).count();
    let mut stdout = std::io::stdout().lock();
    match a.format {
        Format::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?,
        Format::Text => {
            for l in &out {
                writeln!(
                    stdout,
                    "{:<8} {}:{}  {}  {}{}",
                    l.status,
                    l.file,
                    l.line,
                    l.rules.join(","),
                    l.request.as_ref().map(|r| format!("[{r}] ")).unwrap_or_default(),
                    match l.status {
                        "approved" | "expired" => format!(
                            "by {} on {}",
                            l.approver.as_deref().unwrap_or("?"),
                            l.approved.as_deref().unwrap_or("(no date)")
                        ),
                        "pending" => "awaiting approval".to_string(),
                        _ => l.problems.join("; "),
                    }
                )?;
            }
            writeln!(
                stdout,
                "{} overrides: {} approved, {} pending, {} expired, {} invalid",
                out.len(),
                count("approved"),
                count("pending"),
                count("expired"),
                count("invalid")
            )?;
        }
    }
    Ok(if count("invalid") + count("pending") + count("expired") > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
