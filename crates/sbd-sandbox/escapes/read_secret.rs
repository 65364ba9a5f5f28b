// Escape attempt: read a secret file outside the work directory (Rust std::fs).
// argv[1] = absolute host path of the secret. Prints LEAK:<content> if any read works.
fn main() {
    let Some(secret) = std::env::args().nth(1) else { std::process::exit(2) };
    for path in [secret.clone(), format!("/proc/1/root{secret}"), format!("/work/../..{secret}")] {
        match std::fs::read_to_string(&path) {
            Ok(s) => println!("LEAK:{} via {path}", s.trim()),
            Err(e) => println!("denied {path}: {e}"),
        }
    }
}
