pub const LONG_POLL_TIMEOUT_MS: u64 = 1000;
pub struct Embedded;
impl Embedded {
    pub fn stream_root(&self) -> String {
        String::new()
    }
    pub async fn stop(self) {}
}
pub async fn start(_store: &str) -> Result<Embedded, String> {
    Err("stub".into())
}
pub fn restart_cmd() -> Option<String> {
    None
}
