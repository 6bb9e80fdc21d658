//! Argon2id itself: a new PHC string for a password, or a check of one against a stored PHC
//! string under the parameters it names, each worked in memory the caller lends.
use argon2::password_hash::{
    rand_core::OsRng, Output, ParamsString, PasswordHash, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// OWASP's parameters (m=19 MiB, t=2, p=1): what every new hash is made with.
pub(super) fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The raw hash of `password` with `argon2`, of `len` bytes, worked in `memory` when it is
/// large enough (the service's own parameters) and in memory of its own otherwise.
fn hash_raw(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &Salt<'_>,
    len: usize,
    memory: &mut [Block],
) -> anyhow::Result<Output> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("password salt is malformed: {e}"))?;
    let needed = argon2.params().block_count();
    let mut own = Vec::new();
    let memory = if memory.len() >= needed {
        memory
    } else {
        own.resize(needed, Block::default());
        &mut own[..]
    };
    Output::init_with(len, |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt, out, &mut *memory)?)
    })
    .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`.
pub(super) fn hash_phc(password: &[u8], memory: &mut [Block]) -> anyhow::Result<String> {
    let argon2 = argon2();
    let salt = SaltString::generate(&mut OsRng);
    let output = hash_raw(
        &argon2,
        password,
        &salt.as_salt(),
        Params::DEFAULT_OUTPUT_LEN,
        memory,
    )?;
    let params = ParamsString::try_from(argon2.params())
        .map_err(|e| anyhow::anyhow!("argon2 parameters do not encode: {e}"))?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string())
}

/// Whether `password` hashes to the stored PHC string `hash`, under the algorithm, version and
/// parameters the string names. The comparison takes the same time wherever they differ.
pub(super) fn verify_phc(
    password: &[u8],
    hash: &str,
    memory: &mut [Block],
) -> anyhow::Result<bool> {
    let malformed =
        |e: argon2::password_hash::Error| anyhow::anyhow!("stored password hash is malformed: {e}");
    let parsed = PasswordHash::new(hash).map_err(malformed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(malformed)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| malformed(e.into()))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(malformed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored password hash has no salt or no hash");
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = hash_raw(&argon2, password, &salt, expected.len(), memory)?;
    Ok(computed == expected)
}
