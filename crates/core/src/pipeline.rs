//! The ordered pipeline of checks.
//!
//! Order matters only for readability of results and for the few checks that
//! read another's findings (the archive password check reads the archive
//! findings); every check is otherwise independent. The groups follow
//! DESIGN.md's catalogue: message anomalies, then sender and authentication,
//! then content, links, HTML and attachments.

use crate::checks::{self, Context};
use crate::symbols::Findings;

/// Runs every check over one message.
pub fn run(ctx: &mut Context<'_>, f: &mut Findings) {
    // Structure: limits hit and broken input.
    checks::anomalies::check(ctx, f);
    // Sender and authentication.
    checks::auth_results::check(ctx, f);
    checks::own_domain::check(ctx, f);
    checks::lookalike::check(ctx, f);
    checks::display_name::check(ctx, f);
    checks::reply_to::check(ctx, f);
    checks::contact_address::check(ctx, f);
    checks::sender_history::check(ctx, f);
    // What DNS block lists say about the client, the sender and the links.
    checks::dnsbl::check(ctx, f);
    // Content.
    checks::lures::check(ctx, f);
    checks::bec::check(ctx, f);
    checks::classifier::check(ctx, f);
    // Links.
    checks::link_text::check(ctx, f);
    checks::link_hosts::check(ctx, f);
    // Known-bad indicators from threat feeds (links, sender, hashes).
    checks::feeds::check(ctx, f);
    // HTML body.
    checks::html_body::check(ctx, f);
    // Attachments.
    checks::attachments::check(ctx, f);
    checks::office_macros::check(ctx, f);
    checks::archives::check(ctx, f);
    checks::html_attachments::check(ctx, f);
    checks::pdf_attachments::check(ctx, f);
    checks::antivirus::check(ctx, f);
}
