//! Print the tree-sitter syntax tree of a file, for writing rule queries:
//! `cargo run -p sbd-scan --example sexp -- LANG FILE`.
use std::io::Read;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(lang), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: sexp LANG FILE|-");
        std::process::exit(2);
    };
    let Ok(lang) = lang.parse::<sbd_scan::Language>() else {
        eprintln!("unknown language");
        std::process::exit(2);
    };
    let mut text = String::new();
    let ok = if file == "-" {
        std::io::stdin().read_to_string(&mut text).is_ok()
    } else {
        std::fs::read_to_string(&file).map(|t| text = t).is_ok()
    };
    if !ok {
        eprintln!("cannot read {file}");
        std::process::exit(2);
    }
    let mut p = tree_sitter::Parser::new();
    if p.set_language(&lang.grammar()).is_err() {
        std::process::exit(2);
    }
    match p.parse(&text, None) {
        Some(t) => println!("{}", t.root_node().to_sexp()),
        None => std::process::exit(1),
    }
    let r = sbd_scan::scan(&text, lang);
    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
}
