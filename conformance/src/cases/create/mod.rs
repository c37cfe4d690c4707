//! §5.1 Create Stream: new streams, idempotent re-creation, closed creation,
//! header validation.

use crate::case::{case, Case};

mod basic;
mod closed;
mod idempotent;
mod validation;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "create::basic::new_stream_is_201",
            &["CREATE-NEW-201"],
            basic::new_stream_is_201,
        ),
        case(
            "create::basic::initial_body_is_first_content",
            &["CREATE-INITIAL-BODY", "CREATE-NEW-201"],
            basic::initial_body_is_first_content,
        ),
        case(
            "create::basic::response_headers",
            &["CREATE-RESP-HEADERS"],
            basic::response_headers,
        ),
        case(
            "create::basic::location_on_201",
            &["CREATE-LOCATION"],
            basic::location_on_201,
        ),
        case(
            "create::basic::default_content_type",
            &["CREATE-DEFAULT-CT"],
            basic::default_content_type,
        ),
        case(
            "create::idempotent::same_config_is_200",
            &["CREATE-IDEMPOTENT-200", "CREATE-RESP-HEADERS"],
            idempotent::same_config_is_200,
        ),
        case(
            "create::idempotent::content_type_mismatch_is_409",
            &["CREATE-CONFLICT-409"],
            idempotent::content_type_mismatch_is_409,
        ),
        case(
            "create::idempotent::ttl_mismatch_is_409",
            &["CREATE-CONFLICT-409", "CREATE-IDEMPOTENT-200"],
            idempotent::ttl_mismatch_is_409,
        ),
        case(
            "create::idempotent::expires_at_mismatch_is_409",
            &["CREATE-CONFLICT-409", "CREATE-IDEMPOTENT-200"],
            idempotent::expires_at_mismatch_is_409,
        ),
        case(
            "create::idempotent::content_type_case_is_ignored",
            &["CT-MEDIA-TYPE-CASE"],
            idempotent::content_type_case_is_ignored,
        ),
        case(
            "create::idempotent::reput_closed_stream",
            &["CREATE-CLOSURE-MATCH"],
            idempotent::reput_closed_stream,
        ),
        case(
            "create::idempotent::reput_closed_on_open_stream_is_409",
            &["CREATE-CLOSURE-MATCH"],
            idempotent::reput_closed_on_open_stream_is_409,
        ),
        case(
            "create::closed::empty_closed_stream",
            &["CREATE-CLOSED"],
            closed::empty_closed_stream,
        ),
        case(
            "create::closed::body_is_final_content",
            &["CREATE-CLOSED", "CREATE-INITIAL-BODY"],
            closed::body_is_final_content,
        ),
        case(
            "create::validation::ttl_syntax_is_400",
            &["CREATE-TTL-SYNTAX"],
            validation::ttl_syntax_is_400,
        ),
        case(
            "create::validation::valid_ttl_is_201",
            &["CREATE-TTL-SYNTAX"],
            validation::valid_ttl_is_201,
        ),
        case(
            "create::validation::expires_at_syntax_is_400",
            &["CREATE-EXPIRES-SYNTAX"],
            validation::expires_at_syntax_is_400,
        ),
        case(
            "create::validation::ttl_and_expires_at_is_400",
            &["CREATE-TTL-AND-EXPIRES-400"],
            validation::ttl_and_expires_at_is_400,
        ),
    ]
}
