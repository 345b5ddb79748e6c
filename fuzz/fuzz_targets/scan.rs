//! Parse + full analysis over arbitrary bytes: must never panic, whatever the
//! input. Run: `cargo +nightly fuzz run scan -- -max_total_time=300`
//! (seed it with `corpus/`: `cargo +nightly fuzz run scan ../corpus`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phishgate_core::{Config, Engine, Envelope, Facts, ScanInput};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let cfg = Config::from_toml_str(
            "[organization]\ndomains = [\"laocai.gov.vn\"]\nauthserv_id = \"mail.laocai.gov.vn\"\nvips = [\"Tăng Văn Hạnh\"]\n",
        )
        .expect("config");
        Engine::new(cfg).expect("engine")
    })
}

fuzz_target!(|data: &[u8]| {
    let env = Envelope::default();
    let facts = Facts::default();
    let r = engine().scan(&ScanInput { raw: data, envelope: &env, facts: &facts });
    assert!(r.score.is_finite());
});
