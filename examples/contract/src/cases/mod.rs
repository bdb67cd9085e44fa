//! The contract cases, grouped by area. Each case is an
//! `async fn(Ctx) -> CaseResult` and is listed in [`all`].

use crate::{Case, CaseFuture, Ctx};

mod auth;
mod general;
mod login;
mod posts;
mod social;
mod users;
mod votes;

/// Builds the case table from `module::function` paths; the case name is the
/// function name.
macro_rules! case_table {
    ($($module:ident :: $name:ident),* $(,)?) => {
        vec![$(
            Case {
                name: stringify!($name),
                run: {
                    fn run(ctx: Ctx) -> CaseFuture {
                        Box::pin($module::$name(ctx))
                    }
                    run
                },
            }
        ),*]
    };
}

/// Every case, in running order.
pub(crate) fn all() -> Vec<Case> {
    case_table![
        // General behaviour.
        general::root_returns_message,
        general::health_returns_200_json,
        general::unknown_route_is_404_not_found,
        general::trailing_slash_user_and_login_routes_work,
        general::trailing_slash_post_routes_work,
        general::trailing_slash_vote_and_health_routes_work,
        // Users.
        users::register_returns_201_without_password,
        users::register_lowercases_email,
        users::register_with_invalid_email_is_422,
        users::register_without_password_is_422_at_body_password,
        users::register_with_wrong_types_is_422,
        users::register_with_malformed_json_is_422,
        users::register_with_text_plain_content_type_is_422,
        users::register_with_oversized_body_is_413,
        users::register_ignores_extra_fields,
        users::duplicate_email_is_409,
        users::duplicate_email_differing_in_case_is_409,
        users::passwords_of_8_and_128_chars_are_accepted,
        users::passwords_of_7_and_129_chars_are_422,
        users::unicode_password_with_spaces_registers_and_logs_in,
        users::concurrent_registrations_of_one_email_yield_one_201,
        users::get_user_by_id_needs_no_auth,
        users::get_unknown_user_is_404,
        users::get_user_with_non_integer_id_is_422,
        users::users_me_returns_the_caller,
        users::users_me_without_token_is_401,
        // Login and tokens.
        login::login_with_form_returns_bearer_token,
        login::login_with_oauth2_form_extra_fields_works,
        login::login_with_json_returns_bearer_token,
        login::login_email_is_case_insensitive,
        login::login_with_unknown_email_is_403_invalid_credentials,
        login::login_with_wrong_password_is_403_invalid_credentials,
        login::login_form_without_password_is_422,
        login::login_json_without_email_is_422,
        login::access_token_is_hs256_jwt_with_expected_claims,
        login::two_logins_have_different_jti,
        // Authentication failures.
        auth::missing_token_is_401_on_every_protected_route,
        auth::malformed_authorization_headers_are_401,
        auth::lowercase_bearer_scheme_is_accepted,
        auth::tampered_token_is_401,
        auth::signature_stripped_token_is_401,
        auth::alg_none_token_is_401,
        auth::refused_tokens_get_the_invalid_token_challenge,
        // Posts.
        posts::create_post_returns_201_post_with_owner,
        posts::create_post_defaults_published_to_true,
        posts::create_post_ignores_owner_id_in_body,
        posts::create_post_with_empty_or_blank_fields_is_422,
        posts::create_post_title_length_limit_is_300_chars,
        posts::create_post_content_length_limit_is_10000_chars,
        posts::create_post_with_wrong_types_is_422,
        posts::create_post_with_missing_fields_or_bad_json_is_422,
        posts::create_post_with_oversized_body_is_413,
        posts::list_posts_returns_post_out_newest_first,
        posts::list_posts_shows_published_posts_of_other_users,
        posts::list_posts_search_is_case_insensitive_substring,
        posts::list_posts_pages_with_limit_and_skip,
        posts::list_posts_pages_by_keyset_with_after,
        posts::list_posts_default_limit_is_10,
        posts::list_posts_with_invalid_limit_or_skip_is_422,
        posts::get_post_returns_post_out,
        posts::get_unknown_post_is_404,
        posts::get_post_with_non_integer_id_is_422,
        posts::update_post_by_owner_returns_200_updated_post,
        posts::update_post_with_invalid_body_is_422,
        posts::update_post_by_non_owner_is_403_and_leaves_it_unchanged,
        posts::update_unknown_post_is_404,
        posts::delete_post_returns_204_then_404,
        posts::delete_post_by_non_owner_is_403_and_keeps_it,
        posts::delete_unknown_post_is_404,
        posts::delete_post_with_votes_succeeds,
        posts::unpublished_post_is_visible_to_its_owner,
        posts::unpublished_post_is_hidden_from_other_users,
        // Votes.
        votes::vote_returns_201_and_counts_one,
        votes::second_vote_is_409,
        votes::removing_vote_returns_201_and_resets_count,
        votes::removing_absent_vote_is_404,
        votes::vote_on_unknown_post_is_404,
        votes::vote_on_other_users_unpublished_post_is_404,
        votes::vote_with_invalid_dir_is_422,
        votes::vote_with_missing_or_invalid_post_id_is_422,
        votes::votes_from_two_users_count_two,
        votes::user_may_vote_on_own_post,
        votes::concurrent_identical_votes_yield_one_201,
        // The social graph.
        social::usernames_are_unique_in_any_case_and_profiles_are_public,
        social::update_me_changes_only_the_fields_given,
        social::follows_are_idempotent_and_checked,
        social::concurrent_follows_leave_one_edge,
        social::the_feed_holds_followed_users_published_posts_newest_first,
        social::tags_are_normalised_filter_posts_and_are_counted,
        social::author_and_voted_by_filters_and_the_voted_flag,
        social::comments_are_listed_oldest_first_and_deleted_by_their_author,
        social::updating_a_post_sets_updated_at_and_keeps_omitted_tags,
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_names_are_unique() {
        let mut names = crate::case_names();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
