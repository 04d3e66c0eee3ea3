//! The detector's event parser on arbitrary JSON: an event is either understood or rejected with
//! a message; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match alb_keepalive_detector::events::parse(&event) {
        Ok(_) => {}
        Err(error) => assert!(!error.0.is_empty(), "an empty error message"),
    }
});
