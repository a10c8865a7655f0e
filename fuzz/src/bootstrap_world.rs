//! The bootstrap world file on arbitrary text.
//!
//! Properties: `World::from_str` and `World::validate` never panic; a world that validates
//! against a fresh service also applies (apply runs after validate in `Service::apply_world`,
//! and an apply failure is reported as an internal error) and applies a second time
//! (apply is idempotent).

use crate::world::empty_service;
use kmsd_core::bootstrap::World;

/// Entry point.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(world) = World::from_str(text, "fuzz.json") else {
        return;
    };
    let service = empty_service("us-east-1");
    if world.validate(&service.kms).is_err() {
        return;
    }
    if let Err(e) = world.apply(&service.iam, &service.kms) {
        panic!("validated world does not apply: {e}");
    }
    if let Err(e) = world.apply(&service.iam, &service.kms) {
        panic!("validated world does not apply twice: {e}");
    }
    let _ = service.kms.list_key_arns();
}
