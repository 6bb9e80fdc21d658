//! What a stranger who knows only an address can do to an account: nothing that spends the
//! owner's code, guesses a reset, floods the mailbox, tells whether the account exists, or
//! outlives a sign-out. Each test replays a sequence from an adversarial review.
use futures::future::join_all;
use serde_json::json;

use crate::helpers::*;

const OWNER: &str = "198.51.100.7";
const STRANGER: &str = "203.0.113.66";
const NEW_PASSWORD: &str = "a brand new passphrase";
const RESET_SUBJECT: &str = "Your password reset code";

#[tokio::test]
async fn a_strangers_guesses_between_the_owners_login_and_verify_touch_nothing_of_the_owners() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                ("RATE_LIMIT_CODE_VERIFIES", "10/1h"),
                // A lock the stranger's guesses would reach at once if they counted.
                ("OTP_LOCK_AFTER", "3"),
            ])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let login = json!({"username": email, "password": PASSWORD});
        let challenge = challenge_of(app.post_from(OWNER, "/login", &login).await).await;
        let code = app.code_for(&email);

        // Without the owner's challenge, and from another address: refused before the code
        // is looked at, so its tries, the check limit and the lock are the owner's still.
        let guess = other_than(&code);
        for challenge in [None, Some(random_challenge()), Some(random_challenge())] {
            for _ in 0..5 {
                let mut body = json!({"username": email, "code": guess});
                if let Some(c) = &challenge {
                    body["challenge"] = json!(c);
                }
                assert_answer(
                    app.post_from(STRANGER, "/verify", &body).await,
                    401,
                    "Invalid or expired OTP",
                )
                .await;
            }
        }
        // Even the right code is nothing without the challenge, away from the owner.
        let stolen = json!({"username": email, "code": code});
        assert_status(app.post_from(STRANGER, "/verify", &stolen).await, 401).await;

        let verify = json!({"username": email, "code": code, "challenge": challenge});
        let signed_in = assert_status(app.post_from(OWNER, "/verify", &verify).await, 200).await;
        assert!(signed_in["token"].is_string(), "{backend:?}");
    }
}

#[tokio::test]
async fn the_old_contract_still_signs_in_from_the_address_that_asked() {
    let app = test_app()
        .env(&[("TRUST_FORWARDED_FOR", "true")])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let login = json!({"username": email, "password": PASSWORD});
    assert_status(app.post_from(OWNER, "/login", &login).await, 200).await;
    let verify = json!({"username": email, "code": app.code_for(&email)});
    assert_status(app.post_from(OWNER, "/verify", &verify).await, 200).await;
}

#[tokio::test]
async fn a_wrong_challenge_is_refused_even_from_the_owners_address() {
    let app = test_app()
        .env(&[("TRUST_FORWARDED_FOR", "true")])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let login = json!({"username": email, "password": PASSWORD});
    let challenge = challenge_of(app.post_from(OWNER, "/login", &login).await).await;
    let code = app.code_for(&email);
    let wrong = json!({"username": email, "code": code, "challenge": random_challenge()});
    assert_status(app.post_from(OWNER, "/verify", &wrong).await, 401).await;
    let right = json!({"username": email, "code": code, "challenge": challenge});
    assert_status(app.post_from(STRANGER, "/verify", &right).await, 200).await;
}

/// Asks for a reset from `address` and answers the challenge.
async fn request_reset_from(app: &TestApp, address: &str, email: &str) -> String {
    let body = json!({"username": email});
    challenge_of(
        app.post_from(address, "/request-password-reset", &body)
            .await,
    )
    .await
}

fn reset_body(email: &str, code: &str, challenge: &str) -> serde_json::Value {
    json!({"username": email, "code": code, "challenge": challenge, "new_password": NEW_PASSWORD})
}

/// The secret of the link in the last reset mail to `email`.
fn reset_link_token(app: &TestApp, email: &str) -> String {
    let mail = app
        .mailer()
        .messages_to(email)
        .into_iter()
        .rev()
        .find(|m| m.subject == RESET_SUBJECT)
        .expect("a reset mail");
    let link = mail.link.expect("the reset mail has a link");
    assert!(mail.text.contains(&link), "{}", mail.text);
    link.rsplit_once("token=")
        .expect("a token in the link")
        .1
        .to_owned()
}

#[tokio::test]
async fn reset_codes_cannot_be_guessed_past_their_yearly_budget_and_the_link_still_works() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        // The default yearly budget alone (the hourly one off, as in the review).
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                ("RATE_LIMIT_RESET_CODE_CHECKS", "20/365d"),
            ])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        for _ in 0..4 {
            let challenge = request_reset_from(&app, STRANGER, &email).await;
            let wrong = other_than(&app.reset_code_for(&email));
            for _ in 0..5 {
                let body = reset_body(&email, &wrong, &challenge);
                let answer = app.post_from(STRANGER, "/reset-password", &body).await;
                assert_answer(answer, 401, "Invalid or expired code").await;
            }
        }
        // 20 guesses spent the year's budget: even the right code is refused now.
        let challenge = request_reset_from(&app, STRANGER, &email).await;
        let right = reset_body(&email, &app.reset_code_for(&email), &challenge);
        let refused = app.post_from(STRANGER, "/reset-password", &right).await;
        assert_status(refused, 429).await;
        assert_status(app.login(&email, PASSWORD).await, 200).await;

        // The mail's link is the owner's way through, whatever was spent.
        let link = json!({
            "username": email,
            "token": reset_link_token(&app, &email),
            "new_password": NEW_PASSWORD,
        });
        assert_answer(
            app.post_from(OWNER, "/reset-password", &link).await,
            200,
            "Password changed",
        )
        .await;
        assert_status(app.post_from(OWNER, "/reset-password", &link).await, 401).await;
        assert_status(app.login(&email, NEW_PASSWORD).await, 200).await;
    }
}

#[tokio::test]
async fn a_reset_link_with_another_secret_changes_nothing() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let forged = json!({
        "username": email,
        "token": random_challenge(),
        "new_password": NEW_PASSWORD,
    });
    assert_answer(
        app.post_json("/reset-password", &forged).await,
        401,
        "Invalid or expired code",
    )
    .await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    let neither = json!({"username": email, "new_password": NEW_PASSWORD});
    assert_answer(
        app.post_json("/reset-password", &neither).await,
        400,
        "Code is required",
    )
    .await;
    let both = "Send either the code (with its challenge) or the link's token, not both";
    for extra in [
        json!({"code": "123456"}),
        json!({"challenge": random_challenge()}),
    ] {
        let mut body = forged.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_answer(app.post_json("/reset-password", &body).await, 400, both).await;
    }
}

#[tokio::test]
async fn a_stranger_cannot_block_the_owners_reset() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                ("RATE_LIMIT_RESET_CODE_CHECKS", "10/1h,20/365d"),
            ])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        // The owner has signed in from this address before.
        let login = json!({"username": email, "password": PASSWORD});
        assert_status(app.post_from(OWNER, "/login", &login).await, 200).await;
        let verify = json!({"username": email, "code": app.code_for(&email)});
        assert_status(app.post_from(OWNER, "/verify", &verify).await, 200).await;

        // The owner asks first; the stranger's guesses, with its own challenges or none,
        // never reach the owner's code.
        let owners = request_reset_from(&app, OWNER, &email).await;
        let owners_code = app.reset_code_for(&email);
        for _ in 0..5 {
            let body = json!({"username": email, "code": other_than(&owners_code),
                              "new_password": NEW_PASSWORD});
            assert_status(app.post_from(STRANGER, "/reset-password", &body).await, 401).await;
        }
        let right = reset_body(&email, &owners_code, &owners);
        assert_status(app.post_from(OWNER, "/reset-password", &right).await, 200).await;

        // Twice over, the review's sequence: ask, then five wrong codes.
        for _ in 0..2 {
            let challenge = request_reset_from(&app, STRANGER, &email).await;
            let wrong = other_than(&app.reset_code_for(&email));
            for _ in 0..5 {
                let body = reset_body(&email, &wrong, &challenge);
                let status = app
                    .post_from(STRANGER, "/reset-password", &body)
                    .await
                    .status();
                assert!(status == 401 || status == 429, "{backend:?}: {status}");
            }
        }
        // From an address the owner signed in from, the owner's right code still works.
        let owners = request_reset_from(&app, OWNER, &email).await;
        let right = json!({"username": email, "code": app.reset_code_for(&email),
                           "challenge": owners, "new_password": "the third passphrase"});
        assert_status(app.post_from(OWNER, "/reset-password", &right).await, 200).await;
        assert_status(app.login(&email, "the third passphrase").await, 200).await;
    }
}

#[tokio::test]
async fn sub_addresses_cannot_flood_one_mailbox() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[
                ("RATE_LIMIT_CODE_SENDS", "1/1m,5/1h"),
                ("RATE_LIMIT_MAILBOX_SENDS", "1/1m,5/1h"),
            ])
            .spawn()
            .await;
        let name = format!("victim-{}", random_suffix().to_lowercase());
        let mailbox = format!("{name}@example.com");
        let tagged: Vec<String> = (1..=7).map(|n| format!("{name}+{n}@example.com")).collect();
        for address in &tagged {
            assert_status(app.register(address, PASSWORD).await, 201).await;
            assert_status(app.request_reset(address).await, 200).await;
            assert_status(app.login(address, PASSWORD).await, 200).await;
        }
        let delivered: usize = tagged
            .iter()
            .map(|a| app.mailer().messages_to(a).len())
            .sum();
        assert_eq!(
            delivered, 1,
            "{backend:?}: 14 asks, one mail to the mailbox"
        );

        // The mailbox's own address is not held back by the flood.
        assert_status(app.register(&mailbox, PASSWORD).await, 201).await;
        assert_status(app.login(&mailbox, PASSWORD).await, 200).await;
        assert_status(app.verify(&mailbox, &app.code_for(&mailbox)).await, 200).await;
    }
}

#[tokio::test]
async fn the_reset_check_limit_answers_alike_for_known_and_unknown_names() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                ("RATE_LIMIT_RESET_CODE_CHECKS", "10/1h"),
            ])
            .spawn()
            .await;
        let known = unique_email();
        assert_status(app.register(&known, PASSWORD).await, 201).await;
        let mut answers = vec![];
        for email in [known.clone(), unique_email()] {
            let mut statuses = vec![];
            for _ in 0..3 {
                let challenge = request_reset_from(&app, STRANGER, &email).await;
                let wrong = match email == known {
                    true => other_than(&app.reset_code_for(&email)),
                    false => "000000".to_owned(),
                };
                for _ in 0..5 {
                    let body = reset_body(&email, &wrong, &challenge);
                    let answer = app.post_from(STRANGER, "/reset-password", &body).await;
                    statuses.push(answer.status().as_u16());
                }
            }
            answers.push(statuses);
        }
        let expected: Vec<u16> = [401; 10].into_iter().chain([429; 5]).collect();
        assert_eq!(answers[0], expected, "{backend:?}: known name");
        assert_eq!(answers[1], expected, "{backend:?}: unknown name");
    }
}

/// Fills the password hasher's queue with wrong-password logins for another account, so that
/// whatever hashes next waits its turn behind them (the queue is first come, first served).
async fn keep_the_hasher_busy(app: &TestApp) -> impl std::future::Future<Output = ()> + '_ {
    let other = unique_email();
    assert_status(app.register(&other, PASSWORD).await, 201).await;
    async move {
        let logins = (0..24).map(|_| app.login(&other, "not the password"));
        for answer in join_all(logins).await {
            assert_eq!(answer.status(), 401);
        }
    }
}

/// How long the flood is given to fill the hasher's queue, and how much later than the change
/// the racing request starts: well inside the time the queue takes to drain.
const QUEUED: std::time::Duration = std::time::Duration::from_millis(30);
const LATER: std::time::Duration = std::time::Duration::from_millis(10);
/// Rounds a race test may take to see the racing request land while the change waits; a
/// loaded machine can drain the queue before it does.
const ROUNDS: usize = 5;

/// Races the thief's password change, queued behind a flood of hashes, against `racing`
/// (started a moment later), and answers the change's status. Whatever the order, the account
/// must end with the owner's password (`owners`), never the thief's.
async fn race_a_change(
    app: &TestApp,
    (email, thief): (&str, &str),
    owners: &str,
    racing: impl std::future::Future<Output = ()>,
) -> u16 {
    let flood = keep_the_hasher_busy(app).await;
    let change = async {
        tokio::time::sleep(QUEUED).await;
        app.change_password(thief, PASSWORD, "the thief's passphrase")
            .await
    };
    let racing = async {
        tokio::time::sleep(QUEUED + LATER).await;
        racing.await
    };
    let (changed, (), ()) = tokio::join!(change, racing, flood);
    let status = changed.status().as_u16();
    assert!(status == 200 || status == 401, "{status}");
    assert_status(app.login(email, "the thief's passphrase").await, 401).await;
    assert_status(app.login(email, owners).await, 200).await;
    status
}

#[tokio::test]
async fn a_password_change_waiting_on_the_hasher_does_not_outlive_a_sign_out_everywhere() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let mut refused = false;
        for _ in 0..ROUNDS {
            let email = unique_email();
            let thief = app.sign_in(&email).await;
            let owner = app.sign_in_again(&email).await;
            // Signing out everywhere hashes nothing: it lands while the change waits.
            let sign_out = async {
                let all = Some(json!({"scope": "all"}));
                assert_status(app.logout(&owner, all).await, 200).await;
            };
            let status = race_a_change(&app, (&email, &thief), PASSWORD, sign_out).await;
            refused = status == 401;
            if refused {
                break;
            }
        }
        assert!(
            refused,
            "{backend:?}: the sign-out never landed while the change waited"
        );
    }
}

#[tokio::test]
async fn a_password_change_waiting_on_the_hasher_does_not_undo_the_owners_reset() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let mut refused = false;
        for _ in 0..ROUNDS {
            let email = unique_email();
            let thief = app.sign_in(&email).await;
            assert_status(app.request_reset(&email).await, 200).await;
            let code = app.reset_code_for(&email);
            // The reset's hash queues behind the change's check of the current password, and
            // ahead of the change's hash of its new one.
            let reset = async {
                let reset = app.reset_password(&email, &code, NEW_PASSWORD).await;
                assert_status(reset, 200).await;
            };
            let status = race_a_change(&app, (&email, &thief), NEW_PASSWORD, reset).await;
            refused = status == 401;
            if refused {
                break;
            }
        }
        assert!(
            refused,
            "{backend:?}: the reset never landed while the change waited"
        );
    }
}
