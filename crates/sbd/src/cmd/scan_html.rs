//! `sbd scan --html FILE` — a self-contained page per scan: each unit's code with findings,
//! facts and overrides highlighted inline, the explanation of every finding under its line,
//! and the unit's three ANRF layers side by side with their cross-references as links.
//! No external resources: inline CSS, a few lines of script, nothing fetched.

use std::fmt::Write;

use sbd_scan::{Finding, Report, Span};
use serde_json::Value;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --bad: #fde2e1; --bad-edge: #c62828; --ovr: #fff4cc; --ovr-edge: #b58900; --fact: #e3f2fd; --fact-edge: #1565c0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #1d2b3a; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; opacity: .85; }
main { padding: 16px 24px; }
section.unit { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin-bottom: 24px; padding: 12px 16px; }
h2 { font-size: 17px; margin: 4px 0 8px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.badges span { display: inline-block; border-radius: 10px; padding: 1px 9px; margin: 0 6px 6px 0; font-size: 12px; border: 1px solid #ccc; }
.yes { background: #e6f4ea; } .no { background: var(--bad); }
.legend span { margin-right: 14px; font-size: 12px; }
.sw { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; border-left: 3px solid; }
table.code { border-collapse: collapse; width: 100%; font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
table.code td { padding: 0 8px; vertical-align: top; white-space: pre-wrap; word-break: break-all; }
table.code td.n { color: #888; text-align: right; user-select: none; width: 1%; white-space: nowrap; border-right: 1px solid #eee; }
tr.finding td.c { background: var(--bad); border-left: 3px solid var(--bad-edge); }
tr.override td.c { background: var(--ovr); border-left: 3px solid var(--ovr-edge); }
tr.fact td.c { background: var(--fact); border-left: 3px solid var(--fact-edge); }
mark { background: rgba(198,40,40,.22); border-bottom: 2px solid var(--bad-edge); padding: 0; }
tr.explain td { background: #fffafa; border-left: 3px solid var(--bad-edge); font: 13px/1.45 system-ui, sans-serif; white-space: normal; }
tr.explain .rule { font-weight: 600; }
tr.explain p { margin: 4px 0; }
tr.note td { background: #fffdf2; border-left: 3px solid var(--ovr-edge); font: 13px system-ui, sans-serif; white-space: normal; }
.sev-critical, .sev-high { color: #b71c1c; } .sev-medium { color: #e65100; } .sev-low, .sev-info { color: #555; }
.layers { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
.layer { border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px 10px; background: #fcfcfc; min-width: 0; }
.layer h4 { margin: 2px 0 8px; font-size: 14px; }
.layer table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
.layer td, .layer th { border-top: 1px solid #eee; padding: 3px 4px; text-align: left; vertical-align: top; }
.common { font-size: 13px; margin-bottom: 8px; }
.valid { color: #1b5e20; font-weight: 600; } .invalid { color: #b71c1c; font-weight: 600; }
:target { outline: 2px solid #1565c0; }
.hide-facts tr.fact td.c { background: transparent; border-left-color: transparent; }
button { font: inherit; font-size: 12px; }
"#;

const SCRIPT: &str = r#"
window.addEventListener('error', function (e) { document.documentElement.setAttribute('data-error', String(e.message)); });
document.querySelectorAll('button.toggle-facts').forEach(function (b) {
  b.addEventListener('click', function () { document.body.classList.toggle('hide-facts'); });
});
document.documentElement.setAttribute('data-ready', '1');
"#;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Fact,
    Override,
    Finding,
}

fn covers(span: &Span, line: usize) -> bool {
    span.start_line <= line && line <= span.end_line.max(span.start_line)
}

/// One line of code with the exact byte range of single-line findings on it marked.
fn line_html(line: &str, lineno: usize, findings: &[&Finding]) -> String {
    let text = line.trim_end_matches(['\n', '\r']);
    let mut ranges: Vec<(usize, usize)> = findings
        .iter()
        .filter(|f| f.span.start_line == lineno && f.span.end_line == lineno)
        .map(|f| (f.span.start_column.saturating_sub(1), f.span.end_column.saturating_sub(1)))
        .filter(|(s, e)| s < e && *e <= text.len() && text.is_char_boundary(*s) && text.is_char_boundary(*e))
        .collect();
    ranges.sort();
    // Keep non-overlapping ranges only.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    for r in ranges {
        if kept.last().is_none_or(|k| r.0 >= k.1) {
            kept.push(r);
        }
    }
    let mut out = String::new();
    let mut at = 0;
    for (s, e) in kept {
        out.push_str(&esc(&text[at..s]));
        out.push_str("<mark>");
        out.push_str(&esc(&text[s..e]));
        out.push_str("</mark>");
        at = e;
    }
    out.push_str(&esc(&text[at..]));
    out
}

fn badge(name: &str, ok: bool) -> String {
    format!("<span class=\"{}\">{name}: {}</span>", if ok { "yes" } else { "no" }, if ok { "yes" } else { "no" })
}

fn finding_block(f: &Finding, anchor: &str) -> String {
    let cwe: Vec<String> = f.cwe.iter().map(|c| format!("CWE-{c}")).collect();
    format!(
        "<tr class=\"explain\" id=\"{anchor}\"><td class=\"n\"></td><td><span class=\"rule sev-{sev}\">{sev} {rule}</span> — {title} <small>({cwe}; confidence {conf:?})</small>\
         <p>{msg}</p><p><b>Why is this bad?</b> {why}</p><p><b>Use instead:</b> {fix}</p></td></tr>",
        sev = f.severity.name(),
        rule = esc(&f.rule),
        title = esc(&f.title),
        cwe = esc(&cwe.join(", ")),
        conf = f.confidence,
        msg = esc(&f.message),
        why = esc(&f.explanation),
        fix = esc(&f.fix),
    )
}

fn code_view(out: &mut String, r: &Report, source: &str, unit: usize) {
    let findings: Vec<&Finding> = r.findings.iter().collect();
    let _ = writeln!(out, "<table class=\"code\">");
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let n = i + 1;
        let mut mark: Option<Mark> = None;
        if r.facts.iter().any(|f| covers(&f.span, n)) {
            mark = Some(Mark::Fact);
        }
        if r.overrides.iter().any(|o| covers(&o.span, n) || (o.covers_lines.0 <= n && n <= o.covers_lines.1))
            || r.suppressed.iter().any(|f| covers(&f.span, n))
        {
            mark = Some(Mark::Override);
        }
        let here: Vec<&Finding> = findings.iter().copied().filter(|f| covers(&f.span, n)).collect();
        if !here.is_empty() {
            mark = Some(Mark::Finding);
        }
        let class = match mark {
            Some(Mark::Finding) => " class=\"finding\"",
            Some(Mark::Override) => " class=\"override\"",
            Some(Mark::Fact) => " class=\"fact\"",
            None => "",
        };
        let facts: Vec<String> = r.facts.iter().filter(|f| f.span.start_line == n).map(|f| f.name.clone()).collect();
        let title =
            if facts.is_empty() { String::new() } else { format!(" title=\"facts: {}\"", esc(&facts.join(", "))) };
        let _ = writeln!(
            out,
            "<tr{class}{title} id=\"u{unit}-L{n}\"><td class=\"n\">{n}</td><td class=\"c\">{}</td></tr>",
            line_html(line, n, &here)
        );
        for (k, f) in r.findings.iter().enumerate().filter(|(_, f)| f.span.start_line == n) {
            let _ = writeln!(out, "{}", finding_block(f, &format!("u{unit}-f{k}")));
        }
        for o in r.overrides.iter().filter(|o| o.span.start_line == n) {
            let status = if o.valid { "valid override" } else { "INVALID override" };
            let _ = writeln!(
                out,
                "<tr class=\"note\"><td class=\"n\"></td><td><b>{status}</b> of {} ({:?} scope, lines {}–{}): justification “{}”, approver {}, approved {}{}{}</td></tr>",
                esc(&o.rules.join(", ")),
                o.scope,
                o.covers_lines.0,
                o.covers_lines.1,
                esc(o.justification.as_deref().unwrap_or("—")),
                esc(o.approver.as_deref().unwrap_or("—")),
                esc(o.approved.as_deref().unwrap_or("—")),
                if o.suppressed > 0 { format!("; suppresses {}", o.suppressed) } else { String::new() },
                if o.problems.is_empty() {
                    String::new()
                } else {
                    format!("; problems: {}", esc(&o.problems.join("; ")))
                },
            );
        }
    }
    let _ = writeln!(out, "</table>");
}

fn s(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::String(x)) => esc(x),
        Some(Value::Null) | None => "—".into(),
        Some(other) => esc(&other.to_string()),
    }
}

fn rows(v: &Value, ptr: &str) -> Vec<Value> {
    v.pointer(ptr).and_then(Value::as_array).cloned().unwrap_or_default()
}

fn anrf_view(out: &mut String, inst: &Value, verdict: &sbd_anrf::Report, unit: usize) {
    let a = |id: &str| format!("u{unit}-anrf-{}", esc(id));
    let _ = writeln!(
        out,
        "<div class=\"common\">ANRF {} · safety level <b>{}</b> · process isolation {} · memory isolation {} · limits cpu {} s, memory {} MiB, time {} ms, network {}, filesystem {} · override <b>{}</b> · verified {} by {} · <span class=\"{}\">{}</span></div>",
        s(inst, "/anrf_version"),
        s(inst, "/security/safety_level"),
        s(inst, "/security/isolation_requirements/process_isolation"),
        s(inst, "/security/isolation_requirements/memory_isolation"),
        s(inst, "/security/isolation_requirements/resource_limits/cpu"),
        s(inst, "/security/isolation_requirements/resource_limits/memory"),
        s(inst, "/security/isolation_requirements/resource_limits/time"),
        s(inst, "/security/isolation_requirements/resource_limits/network"),
        s(inst, "/security/isolation_requirements/resource_limits/filesystem"),
        s(inst, "/security/override_status"),
        s(inst, "/verification_status/verified"),
        s(inst, "/verification_status/verification_method"),
        if verdict.is_valid() { "valid" } else { "invalid" },
        if verdict.is_valid() {
            "valid ANRF 1.1.0".to_string()
        } else {
            format!(
                "invalid: {}",
                esc(&verdict
                    .violations
                    .iter()
                    .map(|v| format!("{} {}", v.rule, v.pointer))
                    .collect::<Vec<_>>()
                    .join(", "))
            )
        }
    );
    let _ = writeln!(out, "<div class=\"layers\">");
    // Intent
    let _ = writeln!(
        out,
        "<div class=\"layer\"><h4>Intent</h4><p>{}</p><table><tr><th>requirement</th><th>type</th><th>priority</th></tr>",
        s(inst, "/intent/description")
    );
    for r in rows(inst, "/intent/requirements") {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("");
        let _ = writeln!(
            out,
            "<tr id=\"{}\"><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            a(id),
            esc(id),
            s(&r, "/description"),
            s(&r, "/type"),
            s(&r, "/priority")
        );
    }
    let _ = writeln!(
        out,
        "</table><p>memory safety required {} · isolation required {} · resource constraints required {} · override allowed {} ({})</p>",
        s(inst, "/intent/security_intentions/memory_safety_required"),
        s(inst, "/intent/security_intentions/isolation_required"),
        s(inst, "/intent/security_intentions/resource_constraints_required"),
        s(inst, "/intent/security_intentions/override_intention/allowed"),
        s(inst, "/intent/security_intentions/override_intention/justification"),
    );
    let _ = writeln!(out, "</div>");
    // Semantics
    let _ = writeln!(
        out,
        "<div class=\"layer\"><h4>Semantics</h4><table><tr><th>entity</th><th>memory / type / bounded</th><th>guarantees</th></tr>"
    );
    for e in rows(inst, "/semantics/entities") {
        let id = e.get("id").and_then(Value::as_str).unwrap_or("");
        let g: Vec<String> = rows(&e, "/security_properties/formal_guarantees")
            .iter()
            .map(|g| format!("{}: {}", s(g, "/property_type"), s(g, "/property_description")))
            .collect();
        let _ = writeln!(
            out,
            "<tr id=\"{}\"><td>{} <b>{}</b> ({})</td><td>{} / {} / {}</td><td>{}</td></tr>",
            a(id),
            esc(id),
            s(&e, "/name"),
            s(&e, "/type"),
            s(&e, "/security_properties/memory_safe"),
            s(&e, "/security_properties/type_safe"),
            s(&e, "/security_properties/resource_bounded"),
            g.join("<br>")
        );
    }
    let _ = writeln!(out, "</table>");
    for r in rows(inst, "/semantics/relationships") {
        let (src, dst) = (
            r.get("source_id").and_then(Value::as_str).unwrap_or(""),
            r.get("target_id").and_then(Value::as_str).unwrap_or(""),
        );
        let _ = writeln!(
            out,
            "<p><a href=\"#{}\">{}</a> {} <a href=\"#{}\">{}</a> (flow {})</p>",
            a(src),
            esc(src),
            s(&r, "/type"),
            a(dst),
            esc(dst),
            s(&r, "/security_implications/information_flow")
        );
    }
    for i in rows(inst, "/semantics/invariants") {
        let id = i.get("id").and_then(Value::as_str).unwrap_or("");
        let _ = writeln!(
            out,
            "<p id=\"{}\">invariant {}: {} <code>{}</code></p>",
            a(id),
            esc(id),
            s(&i, "/description"),
            s(&i, "/formal_representation")
        );
    }
    for c in rows(inst, "/semantics/security_contracts") {
        let links: Vec<String> = rows(&c, "/invariants")
            .iter()
            .filter_map(Value::as_str)
            .map(|id| format!("<a href=\"#{}\">{}</a>", a(id), esc(id)))
            .collect();
        let _ =
            writeln!(out, "<p>contract {}: {} — keeps {}</p>", s(&c, "/id"), s(&c, "/description"), links.join(", "));
    }
    let _ = writeln!(out, "</div>");
    // Execution
    let _ = writeln!(
        out,
        "<div class=\"layer\"><h4>Execution</h4><p>platform {} · runtime {}</p><table><tr><th>enforcement</th><th>scope</th><th>at</th></tr>",
        s(inst, "/execution/target_environment/platform"),
        s(inst, "/execution/target_environment/runtime_version")
    );
    for (list, kind) in [("memory_safety_mechanisms", "memory"), ("sandboxing_mechanisms", "sandbox")] {
        for m in rows(inst, &format!("/execution/security_enforcement/{list}")) {
            let _ = writeln!(
                out,
                "<tr><td>{kind}: {}</td><td>{}</td><td>{}</td></tr>",
                s(&m, "/mechanism"),
                s(&m, "/scope"),
                s(&m, "/enforcement_point")
            );
        }
    }
    let _ = writeln!(
        out,
        "</table><p>override mechanisms enabled {} ({} scope, audit {})</p><h4>Audit trail</h4><table>",
        s(inst, "/execution/security_enforcement/override_mechanisms/enabled"),
        s(inst, "/execution/security_enforcement/override_mechanisms/scope"),
        s(inst, "/execution/security_enforcement/override_mechanisms/audit_requirements"),
    );
    for ev in rows(inst, "/security/audit_trail") {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            s(&ev, "/event_type"),
            s(&ev, "/actor_id"),
            s(&ev, "/description")
        );
    }
    let _ = writeln!(out, "</table></div></div>");
}

/// The whole page for a set of scanned units with their sources.
pub fn render(units: &[(&Report, &str)]) -> String {
    let now = sbd_anrf::time::now_rfc3339();
    let total: usize = units.iter().map(|(r, _)| r.findings.len()).sum();
    let suppressed: usize = units.iter().map(|(r, _)| r.suppressed.len()).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>sbd scan report</title><style>{STYLE}</style></head><body>"
    );
    let _ = writeln!(
        out,
        "<header><h1>sbd scan</h1><p>{} unit{} · {total} finding{} · {suppressed} suppressed by overrides · {now}</p></header><main>",
        units.len(),
        if units.len() == 1 { "" } else { "s" },
        if total == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "<p class=\"legend\"><span><i class=\"sw\" style=\"background:var(--bad);border-color:var(--bad-edge)\"></i>finding</span><span><i class=\"sw\" style=\"background:var(--ovr);border-color:var(--ovr-edge)\"></i>override / suppressed</span><span><i class=\"sw\" style=\"background:var(--fact);border-color:var(--fact-edge)\"></i>fact</span><button class=\"toggle-facts\" type=\"button\">show/hide facts</button></p>"
    );
    for (i, (r, src)) in units.iter().enumerate() {
        let p = &r.properties;
        let (inst, verdict) = sbd_scan::anrf::unit_anrf_validated(r, &now);
        let _ = writeln!(
            out,
            "<section class=\"unit\" id=\"u{i}\"><h2>{} <small>({})</small></h2>",
            esc(r.path.as_deref().unwrap_or("<input>")),
            r.language.name()
        );
        let _ = writeln!(
            out,
            "<div class=\"badges\">{}{}{}{}<span>override: {:?}</span><span>{} finding{}</span><span>{} fact{}</span></div>",
            badge("memory safe", p.memory_safe),
            badge("type safe", p.type_safe),
            badge("resource bounded", p.resource_bounded),
            badge("sandboxed", p.sandboxed),
            p.override_status,
            r.findings.len(),
            if r.findings.len() == 1 { "" } else { "s" },
            r.facts.len(),
            if r.facts.len() == 1 { "" } else { "s" },
        );
        for n in &r.notes {
            let _ = writeln!(out, "<p><i>note: {}</i></p>", esc(n));
        }
        code_view(&mut out, r, src, i);
        let _ = writeln!(out, "<h3>ANRF 1.1.0 layers</h3>");
        anrf_view(&mut out, &inst, &verdict, i);
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_marks() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let r = sbd_scan::scan(
            "#include <string.h>\nvoid f(char *d, const char *s) { strcpy(d, s); }\n",
            sbd_scan::Language::C,
        );
        let src = "#include <string.h>\nvoid f(char *d, const char *s) { strcpy(d, s); }\n";
        let html = render(&[(&r, src)]);
        assert!(html.contains("<mark>strcpy(d, s)</mark>"), "{html}");
        assert!(html.contains("Why is this bad?"));
        assert!(html.contains("&lt;string.h&gt;"));
        assert!(!html.contains("<script src") && !html.contains("<link"));
    }
}
