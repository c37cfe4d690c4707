//! Case registration for `ds-conformance`.
//!
//! A case is an `async fn(Ctx) -> CaseResult` in a topic module
//! (`cases/<area>/<topic>.rs`) marked with the requirement ids it checks:
//!
//! ```ignore
//! #[case("CLOSE-TRUE-CASE-INSENSITIVE")]
//! pub async fn true_is_case_insensitive(ctx: Ctx) -> CaseResult { … }
//!
//! register![true_is_case_insensitive, …];
//! ```
//!
//! A case that waits on the target's clock (a TTL, a lease, a long-poll
//! timeout) says how long it usually takes, once, beside its requirement
//! ids: `#[case("TTL-RENEW-READ", secs = 10)]`. The runner starts such
//! cases first, so they do not end a run late behind its concurrency limit.
//!
//! The case id is never written by hand: it is the function's module path
//! below `cases::` plus its name (`close::header_value::true_is_case_insensitive`).
//! `register!` builds the topic's `cases()` list. A marked function missing
//! from `register!` leaves its registration constant unused (a dead-code
//! error under `-D warnings`); a listed function without `#[case]` does not
//! compile. So ids cannot drift and no case can be silently dropped.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Ident, ItemFn, LitInt, LitStr, Token};

/// One argument of `#[case(...)]`: a requirement id, or `secs = N`.
enum CaseArg {
    Requirement(LitStr),
    Secs(LitInt),
}

impl Parse for CaseArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(CaseArg::Requirement(input.parse()?));
        }
        let key: Ident = input.parse()?;
        if key != "secs" {
            return Err(syn::Error::new_spanned(
                key,
                "expected a requirement id (\"REQ-ID\") or `secs = N`",
            ));
        }
        input.parse::<Token![=]>()?;
        let n: LitInt = input.parse()?;
        n.base10_parse::<u32>()?;
        Ok(CaseArg::Secs(n))
    }
}

/// `#[case("REQ-ID", …)]` on a case function: records its requirement ids
/// (and `secs = N`, its usual duration when it waits on the target's clock)
/// beside it and emits the registration constant that `register!` lists.
#[proc_macro_attribute]
pub fn case(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match Punctuated::<CaseArg, Token![,]>::parse_terminated.parse(attr) {
        Ok(r) => r,
        Err(e) => return e.to_compile_error().into(),
    };
    let mut reqs = Vec::new();
    let mut secs = None;
    for arg in args {
        match arg {
            CaseArg::Requirement(r) => reqs.push(r),
            CaseArg::Secs(n) if secs.is_some() => {
                return syn::Error::new_spanned(n, "`secs` given twice")
                    .to_compile_error()
                    .into()
            }
            CaseArg::Secs(n) => secs = Some(n),
        }
    }
    let secs = secs.map_or_else(|| quote!(0), |n| quote!(#n));
    let func = parse_macro_input!(item as ItemFn);
    if reqs.is_empty() {
        return syn::Error::new_spanned(
            &func.sig.ident,
            "a case names at least one requirement id",
        )
        .to_compile_error()
        .into();
    }
    if func.sig.asyncness.is_none() {
        return syn::Error::new_spanned(&func.sig, "a case is an `async fn(Ctx) -> CaseResult`")
            .to_compile_error()
            .into();
    }
    let name = &func.sig.ident;
    let konst = format_ident!("__CASE_{}", name);
    let name_str = name.to_string();
    let reqs = reqs.iter();
    quote! {
        #func

        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        pub(crate) const #konst: crate::case::CaseDef = crate::case::CaseDef {
            module: module_path!(),
            name: #name_str,
            requirements: &[#(#reqs),*],
            expected_secs: #secs,
            run: |ctx| ::std::boxed::Box::pin(#name(ctx)),
        };
    }
    .into()
}

/// `register![a, b, …]` at the end of a topic module: its `cases()` list,
/// in the order given.
#[proc_macro]
pub fn register(input: TokenStream) -> TokenStream {
    let names = match Punctuated::<Ident, Token![,]>::parse_terminated.parse(input) {
        Ok(n) => n,
        Err(e) => return e.to_compile_error().into(),
    };
    let konsts = names.iter().map(|n| format_ident!("__CASE_{}", n));
    quote! {
        /// The cases of this topic, in catalog order.
        pub(crate) fn cases() -> ::std::vec::Vec<crate::case::Case> {
            ::std::vec![#(#konsts.into_case()),*]
        }
    }
    .into()
}
