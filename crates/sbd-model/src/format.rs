//! The multi-layer answer format: code, then the three ANRF layers, then an explanation.
//!
//! What the model writes after `<|assistant|>` (the trainers append `<|eos|>`):
//!
//! ~~~text
//! <|code|>```python
//! CODE
//! ```
//! <|anrf_intent|>{"description": …, "requirements": […], …}
//! <|anrf_semantic|>{"entities": […], …}
//! <|anrf_execution|>{"target_environment": …, …}
//! <|explanation|>TEXT
//! ~~~
//!
//! The three layers are compact JSON objects, exactly the `intent`, `semantics` and
//! `execution` objects of ANRF 1.1.0; they come together or not at all (an answer may go from
//! the code straight to `<|explanation|>`). The common block — version, timestamps, creator,
//! the `security` block with its overrides and audit trail, dependencies, verification
//! status — is not generated: [`assemble`] takes it from the verifier's view of the code
//! ([`sbd_scan::anrf::unit_anrf`]: the code's own `sbd:allow` overrides, its properties, the
//! verification result), puts the model's layers into it and runs the validator. So a model
//! whose layers claim something the code does not do (an override the code lacks, memory
//! safety it does not have) produces an invalid instance, and generation regenerates it.
//!
//! The newlines around the markers keep the text readable when it is decoded without special
//! tokens: the fenced code stays one fenced block.
//!
//! For training, [`training_answer`] renders an answer for a piece of code from the
//! verifier's ANRF instance and its findings, and [`normalize_response`] rewrites the
//! Markdown answers of `sbd data export --format sft` (code fence, `ANRF:` JSON fence,
//! `Security:` text) into this format.

use std::str::FromStr;

use serde_json::Value;

use crate::tokenizer as tk;

/// The segment markers in the order they appear.
pub const MARKERS: [&str; 5] = [tk::CODE, tk::ANRF_INTENT, tk::ANRF_SEMANTIC, tk::ANRF_EXECUTION, tk::EXPLANATION];

/// Timestamp used in training answers: layers carry none, only the common block does, and it
/// is not part of the text.
const TRAINING_TIME: &str = "2026-01-01T00:00:00Z";

/// The three generated layers of an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Layers {
    pub intent: Value,
    pub semantics: Value,
    pub execution: Value,
}

impl Layers {
    /// The layers of a whole instance (`None` when one is not an object).
    pub fn of(instance: &Value) -> Option<Layers> {
        let get = |k: &str| instance.get(k).filter(|v| v.is_object()).cloned();
        Some(Layers { intent: get("intent")?, semantics: get("semantics")?, execution: get("execution")? })
    }
}

/// An answer split into its segments (all text, as generated).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// The code without its fence.
    pub code: String,
    /// The fence's info string (`python`), when the code was fenced.
    pub language: Option<String>,
    pub intent: Option<String>,
    pub semantic: Option<String>,
    pub execution: Option<String>,
    pub explanation: Option<String>,
}

impl Parsed {
    /// The answer as Markdown for OpenAI-style clients and the eval oracles: one fenced code
    /// block, then the explanation. (The ANRF instance is metadata, delivered separately.)
    pub fn markdown(&self) -> String {
        markdown(self.language.as_deref().unwrap_or(""), &self.code, self.explanation.as_deref())
    }

    /// Parses the three layers as JSON objects.
    pub fn layers(&self) -> Result<Layers, String> {
        let one = |name: &str, text: &Option<String>| -> Result<Value, String> {
            let text = text.as_deref().ok_or_else(|| format!("the {name} layer is missing"))?;
            let v: Value =
                serde_json::from_str(text.trim()).map_err(|e| format!("the {name} layer is not valid JSON: {e}"))?;
            if v.is_object() { Ok(v) } else { Err(format!("the {name} layer is not a JSON object")) }
        };
        Ok(Layers {
            intent: one("intent", &self.intent)?,
            semantics: one("semantic", &self.semantic)?,
            execution: one("execution", &self.execution)?,
        })
    }
}

/// Fenced code, then the explanation.
pub fn markdown(language: &str, code: &str, explanation: Option<&str>) -> String {
    let mut s = format!("```{language}\n{}\n```\n", code.trim_end_matches('\n'));
    if let Some(e) = explanation.map(str::trim).filter(|e| !e.is_empty()) {
        s.push('\n');
        s.push_str(e);
        s.push('\n');
    }
    s
}

/// Renders an answer in the multi-layer format (without the closing `<|eos|>`).
pub fn render(language: &str, code: &str, layers: Option<&Layers>, explanation: Option<&str>) -> String {
    let mut s = format!("{}```{language}\n{}\n```\n", tk::CODE, code.trim_end_matches('\n'));
    if let Some(l) = layers {
        for (marker, v) in
            [(tk::ANRF_INTENT, &l.intent), (tk::ANRF_SEMANTIC, &l.semantics), (tk::ANRF_EXECUTION, &l.execution)]
        {
            s.push_str(marker);
            s.push_str(&v.to_string());
            s.push('\n');
        }
    }
    if let Some(e) = explanation.map(str::trim).filter(|e| !e.is_empty()) {
        s.push_str(tk::EXPLANATION);
        s.push_str(e);
    }
    s
}

/// Splits a fenced block into its info string and code. Text that does not start with a
/// fence is all code; an unclosed fence runs to the end.
pub fn strip_fence(segment: &str) -> (Option<String>, String) {
    let t = segment.trim_start_matches(['\n', '\r', ' ']);
    let Some(rest) = t.strip_prefix("```") else {
        return (None, segment.to_string());
    };
    let (info, body) = match rest.find('\n') {
        Some(i) => (rest[..i].trim(), &rest[i + 1..]),
        None => (rest.trim(), ""),
    };
    let code = match closing_fence(body) {
        Some(i) => body[..i].strip_suffix('\n').map_or(&body[..i], |c| c.strip_suffix('\r').unwrap_or(c)),
        None => body,
    };
    ((!info.is_empty()).then(|| info.to_string()), code.to_string())
}

/// Byte offset of the closing fence in `body`: the first line that starts with three
/// backticks after leading whitespace (the rule of [`sbd_scan::reward::split_completion`],
/// which the eval oracles and the RL reward use to find the code).
pub fn closing_fence(body: &str) -> Option<usize> {
    let mut off = 0;
    for line in body.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            return Some(off);
        }
        off += line.len();
    }
    None
}

/// Splits generated text (decoded with its special tokens) into segments. Text before the
/// first marker counts as code when there is no `<|code|>` marker.
pub fn parse(text: &str) -> Parsed {
    let text = text.replace(tk::EOS, "");
    let mut found: Vec<(usize, usize, usize)> = Vec::new(); // (start, marker, end)
    for (mi, m) in MARKERS.iter().enumerate() {
        let mut from = 0;
        while let Some(i) = text[from..].find(m) {
            found.push((from + i, mi, from + i + m.len()));
            from += i + m.len();
        }
    }
    found.sort();
    let mut out = Parsed::default();
    let first = found.first().map_or(text.len(), |f| f.0);
    for (j, &(_, mi, end)) in found.iter().enumerate() {
        let stop = found.get(j + 1).map_or(text.len(), |f| f.0);
        let body = &text[end..stop];
        match mi {
            0 => {
                let (lang, code) = strip_fence(body);
                out.language = lang;
                out.code = code;
            }
            1 => out.intent = Some(body.trim().to_string()),
            2 => out.semantic = Some(body.trim().to_string()),
            3 => out.execution = Some(body.trim().to_string()),
            _ => out.explanation = Some(body.trim().to_string()).filter(|e| !e.is_empty()),
        }
    }
    if !found.iter().any(|f| f.1 == 0) {
        let (lang, code) = strip_fence(&text[..first]);
        out.language = lang;
        out.code = code;
    }
    out
}

/// The verifier's instance for `report`, made by `creator` (the model id): the creator and
/// the creation event name it; the verification stays the verifier's.
pub fn verifier_instance(report: &sbd_scan::Report, creator: &str, description: Option<&str>, at: &str) -> Value {
    let mut v = serde_json::to_value(sbd_scan::anrf::unit_anrf(report, at)).unwrap_or(Value::Null);
    v["creator_id"] = Value::String(creator.into());
    if let Some(Value::Array(events)) = v.pointer_mut("/security/audit_trail")
        && let Some(first) = events.iter_mut().find(|e| e["event_type"] == "Creation")
    {
        first["actor_id"] = Value::String(creator.into());
    }
    if let Some(d) = description.map(task_line).filter(|d| !d.is_empty()) {
        v["intent"]["description"] = Value::String(d);
    }
    v
}

/// The whole instance from the model's layers and the verifier's common block, and the
/// validator's verdict on it.
pub fn assemble(report: &sbd_scan::Report, layers: &Layers, creator: &str, at: &str) -> (Value, sbd_anrf::Report) {
    let mut v = verifier_instance(report, creator, None, at);
    v["intent"] = layers.intent.clone();
    v["semantics"] = layers.semantics.clone();
    v["execution"] = layers.execution.clone();
    let verdict = sbd_anrf::validate(&v);
    (v, verdict)
}

/// The first line of a task, at most 200 characters (an intent description).
fn task_line(task: &str) -> String {
    task.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").chars().take(200).collect()
}

/// A security explanation of the verifier's report: each blocking finding (CWE, title, why,
/// what to use instead), or what holds when there is none.
pub fn explain(report: &sbd_scan::Report) -> String {
    let blocking: Vec<_> = report.findings.iter().filter(|f| f.severity >= sbd_scan::Severity::Medium).collect();
    if blocking.is_empty() {
        let p = &report.properties;
        let yes = |b: bool| if b { "yes" } else { "no" };
        let mut s = format!(
            "The verifier finds no weakness of medium severity or above. Memory safe: {}; resource bounded: {}.",
            yes(p.memory_safe),
            yes(p.resource_bounded)
        );
        let overrides: Vec<_> = report.overrides.iter().filter(|o| o.valid).collect();
        if !overrides.is_empty() {
            let j: Vec<String> = overrides.iter().filter_map(|o| o.justification.clone()).collect();
            s.push_str(&format!(" It keeps an approved override: {}.", j.join("; ")));
        }
        return s;
    }
    let mut s = String::new();
    for f in blocking.iter().take(3) {
        let cwe = f.cwe.first().map(|c| format!("CWE-{c} ")).unwrap_or_default();
        s.push_str(&format!(
            "{cwe}{} (line {}): {} {}\n",
            f.title,
            f.span.start_line,
            f.explanation.trim(),
            f.fix.trim()
        ));
    }
    s.trim_end().to_string()
}

/// A training answer for `code`: the code, the verifier's ANRF layers (with the task as the
/// intent description) when `with_anrf`, and the verifier's explanation. `None` for a
/// language the verifier does not know.
pub fn training_answer(language: &str, code: &str, task: Option<&str>, with_anrf: bool) -> Option<String> {
    let lang = sbd_scan::Language::from_str(language).ok()?;
    let report = sbd_scan::scan(code, lang);
    let layers = with_anrf.then(|| Layers::of(&verifier_instance(&report, "sbd-scan", task, TRAINING_TIME))).flatten();
    Some(render(lang.name(), code, layers.as_ref(), Some(&explain(&report))))
}

/// Rewrites a Markdown answer of `sbd data export --format sft` (a code fence, optionally
/// `ANRF:` with a JSON fence holding a whole instance, then the explanation, optionally after
/// `Security:`) into the multi-layer format. Text without a code fence (a review verdict, a
/// refusal) and text already in the format are returned unchanged.
pub fn normalize_response(text: &str) -> String {
    if MARKERS.iter().any(|m| text.contains(m)) || !text.contains("```") {
        return text.to_string();
    }
    let mut code: Option<(String, String)> = None;
    let mut layers: Option<Layers> = None;
    let mut prose = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        prose.push_str(&rest[..open]);
        let (info, body) = match rest[open + 3..].find('\n') {
            Some(i) => (rest[open + 3..open + 3 + i].trim().to_string(), &rest[open + 3 + i + 1..]),
            None => break,
        };
        let (block, after) = match closing_fence(body) {
            Some(i) => (&body[..i], body[i + 3..].trim_start_matches(|c| c != '\n')),
            None => (body, ""),
        };
        if info == "json" && layers.is_none() {
            layers = serde_json::from_str::<Value>(block).ok().as_ref().and_then(Layers::of);
        } else if code.is_none() {
            code = Some((info, block.to_string()));
        }
        rest = after;
    }
    prose.push_str(rest);
    let Some((lang, code)) = code else { return text.to_string() };
    let prose = prose.replace("ANRF:", "");
    let prose = prose.trim();
    let explanation = prose.strip_prefix("Security:").unwrap_or(prose).trim();
    render(&lang, &code, layers.as_ref(), Some(explanation))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str =
        "import subprocess\n\ndef ping(host):\n    subprocess.run([\"ping\", \"-c\", \"1\", host], check=False)\n";

    #[test]
    fn training_answers_round_trip_and_their_layers_assemble_into_a_valid_instance() {
        let text = training_answer("python", CODE, Some("Ping a host given by the user."), true).unwrap();
        let p = parse(&text);
        assert_eq!(p.code, CODE.trim_end());
        assert_eq!(p.language.as_deref(), Some("python"));
        assert!(p.explanation.as_deref().unwrap().contains("no weakness"), "{text}");
        let layers = p.layers().unwrap();
        assert_eq!(layers.intent["description"], "Ping a host given by the user.");
        let report = sbd_scan::scan(&p.code, sbd_scan::Language::Python);
        let (inst, verdict) = assemble(&report, &layers, "sbd-test", "2026-02-02T00:00:00Z");
        assert!(verdict.is_valid(), "{:?}", verdict.violations);
        assert_eq!(inst["creator_id"], "sbd-test");
        // Decoded without special tokens, the code is still one fenced block.
        let plain = text.replace(MARKERS[0], "");
        let (code, _) = sbd_scan::reward::split_completion(&plain);
        assert_eq!(code.trim_end(), CODE.trim_end());
    }

    #[test]
    fn layers_that_contradict_the_code_do_not_validate() {
        let text = training_answer("python", CODE, None, true).unwrap();
        let mut layers = parse(&text).layers().unwrap();
        // Claim an override that the code does not carry.
        layers.execution["security_enforcement"]["override_mechanisms"]["enabled"] = Value::Bool(true);
        let report = sbd_scan::scan(CODE, sbd_scan::Language::Python);
        let (_, verdict) = assemble(&report, &layers, "m", TRAINING_TIME);
        assert!(!verdict.is_valid());
        let broken = Parsed { intent: Some("{\"description\": ".into()), ..parse(&text) };
        assert!(broken.layers().unwrap_err().contains("intent layer is not valid JSON"));
        let missing = Parsed { execution: None, ..parse(&text) };
        assert!(missing.layers().unwrap_err().contains("execution layer is missing"));
    }

    #[test]
    fn explanations_name_the_weakness() {
        let text =
            training_answer("python", "import os\n\ndef ping(host):\n    os.system(\"ping \" + host)\n", None, false)
                .unwrap();
        let p = parse(&text);
        assert!(p.intent.is_none());
        assert!(p.explanation.as_deref().unwrap().contains("CWE-78"), "{text}");
        assert!(training_answer("cobol", "x", None, true).is_none());
    }

    #[test]
    fn parses_unmarked_unfenced_and_unclosed_text() {
        let p = parse("x = 1\n<|explanation|>fine<|eos|>");
        assert_eq!((p.code.as_str(), p.explanation.as_deref()), ("x = 1\n", Some("fine")));
        let p = parse("<|code|>```c\nint x;");
        assert_eq!((p.code.as_str(), p.language.as_deref()), ("int x;", Some("c")));
        assert_eq!(strip_fence("```\n```"), (None, String::new()));
        assert_eq!(closing_fence("a\n```\nb"), Some(2));
        assert_eq!(closing_fence("a\n  ``` x\nb"), Some(2));
        assert_eq!(closing_fence("a ```\nb"), None);
    }

    #[test]
    fn normalizes_data_export_answers() {
        let inst = verifier_instance(&sbd_scan::scan(CODE, sbd_scan::Language::Python), "x", None, TRAINING_TIME);
        let md = format!("```python\n{CODE}```\n\nANRF:\n```json\n{inst}\n```\n\nSecurity: Uses an argument list.");
        let out = normalize_response(&md);
        let p = parse(&out);
        assert_eq!(p.code, CODE.trim_end());
        assert_eq!(p.explanation.as_deref(), Some("Uses an argument list."));
        assert_eq!(p.layers().unwrap(), Layers::of(&inst).unwrap());
        let no_meta = normalize_response(&format!("```python\n{CODE}```\n\nSecurity: ok"));
        assert!(parse(&no_meta).intent.is_none() && no_meta.starts_with(tk::CODE));
        assert_eq!(normalize_response("Insecure. CWE-78"), "Insecure. CWE-78");
        assert_eq!(normalize_response(&out), out);
        assert_eq!(parse(&out).markdown(), format!("```python\n{}\n```\n\nUses an argument list.\n", CODE.trim_end()));
    }
}
