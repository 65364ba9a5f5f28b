//! Token-level security tags as character spans.
use sbd_scan::Report;

use crate::record::Tag;

fn snake(v: impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default().to_ascii_lowercase()
}

/// Maps byte offsets of `text` to character offsets.
struct CharIndex<'a> {
    text: &'a str,
    ascii: bool,
}

impl CharIndex<'_> {
    fn at(&self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        if self.ascii {
            return byte;
        }
        let mut b = byte;
        while b > 0 && !self.text.is_char_boundary(b) {
            b -= 1;
        }
        self.text[..b].chars().count()
    }
}

/// Tags for the findings (active and suppressed) and facts of `report` over `text`, sorted
/// by start. Classes: `finding:<class>` (`injection`, `memory_safety`, …), `fact:<category>`.
pub fn tags(text: &str, report: &Report) -> Vec<Tag> {
    let idx = CharIndex { text, ascii: text.is_ascii() };
    let mut out: Vec<Tag> = report
        .findings
        .iter()
        .chain(report.suppressed.iter())
        .map(|f| Tag {
            start: idx.at(f.span.start_byte),
            end: idx.at(f.span.end_byte),
            tag: format!("finding:{}", snake(f.class)),
            source: f.rule.clone(),
        })
        .chain(report.facts.iter().map(|f| Tag {
            start: idx.at(f.span.start_byte),
            end: idx.at(f.span.end_byte),
            tag: format!("fact:{}", snake(f.category)),
            source: f.name.clone(),
        }))
        .collect();
    out.sort_by(|a, b| (a.start, a.end, &a.tag).cmp(&(b.start, b.end, &b.tag)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use sbd_scan::Language;

    #[test]
    fn spans_are_characters_and_cover_the_call() {
        let code = "# é\nimport os\ndef f(x):\n    os.system(x)\n";
        let r = sbd_scan::scan(code, Language::Python);
        let t = super::tags(code, &r);
        let f = t.iter().find(|t| t.tag.starts_with("finding:")).expect("a finding tag");
        let chars: Vec<char> = code.chars().collect();
        let covered: String = chars[f.start..f.end].iter().collect();
        assert!(covered.contains("os.system"), "{covered:?}");
        assert_eq!(f.source, "PY001");
    }
}
