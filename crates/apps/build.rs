// `sqlx::migrate!` embeds crates/apps/migrations at compile time; without
// this, a new migration file does not rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
