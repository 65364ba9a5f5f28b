//! Frama-C EVA (when installed) proves a correct unit and finds the planted errors.
use sbd_sandbox::formal::{FormalVerdict, ToolStatus, frama_c_eva};

fn eva(src: &str) -> Option<ToolStatus> {
    match frama_c_eva(src, false).unwrap() {
        ToolStatus::NotAvailable { reason } => {
            eprintln!("skipping: {reason}");
            None
        }
        s => Some(s),
    }
}

#[test]
fn eva_proves_the_fixed_unit_and_fails_the_buggy_ones() {
    let ok = "int buf[4];\nint get(int i) { return buf[i]; }\nint main(void) {\n  int s = 0;\n  for (int i = 0; i < 4; i++) s += get(i);\n  return s;\n}\n";
    let Some(status) = eva(ok) else { return };
    assert!(matches!(status, ToolStatus::Ran { verdict: FormalVerdict::Proven, .. }), "{status:?}");
    let cases = [
        (ok.replace("i < 4", "i <= 4"), "unit.c:2"),
        (
            "#include <limits.h>\nint main(void) {\n  int x = INT_MAX;\n  x = x + 1;\n  return x;\n}\n".to_string(),
            "unit.c:4",
        ),
        (
            "#include <stdlib.h>\nint main(void) {\n  int *p = malloc(sizeof *p);\n  if (!p) return 1;\n  *p = 1;\n  free(p);\n  return *p;\n}\n".to_string(),
            "unit.c:7",
        ),
    ];
    for (src, loc) in cases {
        match eva(&src).unwrap() {
            ToolStatus::Ran { verdict, properties, .. } => {
                assert_eq!(verdict, FormalVerdict::Failed, "{src}\n{properties:?}");
                assert!(properties.iter().any(|p| p.location == loc), "{loc}: {properties:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
