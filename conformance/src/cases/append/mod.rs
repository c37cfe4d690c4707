//! Cases for the `append` area (spec sections: see each case's requirements).

use crate::case::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
