//! The project's own verifier as a [`Detector`].

use sbd_data::sources::Sample;
use sbd_scan::{Language, Scanner};

use super::{Detector, Finding, peers::dedent};

/// `sbd-scan` with its embedded rules (or any configured [`Scanner`]).
pub struct SbdDetector {
    scanner: Scanner,
    threads: usize,
}

impl SbdDetector {
    pub fn new(scanner: Scanner) -> SbdDetector {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        SbdDetector { scanner, threads }
    }

    fn findings(&self, s: &Sample) -> Vec<Finding> {
        let Ok(lang) = s.language.parse::<Language>() else { return Vec::new() };
        let report = self.scanner.scan(&dedent(&s.code), lang);
        report
            .findings
            .iter()
            .filter(|f| f.suppressed_by.is_none())
            .map(|f| Finding {
                rule: f.rule.clone(),
                cwes: f.cwe.clone(),
                line: f.span.start_line,
                end_line: f.span.end_line,
            })
            .collect()
    }
}

impl Detector for SbdDetector {
    fn name(&self) -> String {
        format!("sbd {}", env!("CARGO_PKG_VERSION"))
    }
    fn supports(&self, language: &str) -> bool {
        language.parse::<Language>().is_ok()
    }
    fn detect(&self, samples: &[Sample]) -> Result<Vec<Vec<Finding>>, String> {
        let chunk = samples.len().div_ceil(self.threads).max(1);
        let parts: Vec<Vec<Vec<Finding>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = samples
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(|s| self.findings(s)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        let out: Vec<Vec<Finding>> = parts.into_iter().flatten().collect();
        if out.len() != samples.len() {
            return Err("a scanning thread panicked".into());
        }
        Ok(out)
    }
}
