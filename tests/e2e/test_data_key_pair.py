"""GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext through boto3 on symmetric keys.

The returned keys are checked with the `cryptography` package: the public key is a DER
SubjectPublicKeyInfo of the requested spec, the plaintext private key (PKCS#8 DER) and the
one Decrypt returns for PrivateKeyCiphertextBlob are the same key, and a signature made
with the private key verifies under the public key.

World: account 111122223333 with `admin` (IAM allows kms:*), `carol` (no IAM policy; access
only through a grant) and `ecuser` (IAM allows GenerateDataKeyPair for ECC_NIST_P256 only).
"""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from kmsd_harness import aws_error
from worlds import ACCT_A, account, allow, doc, user, user_creds

REGION = "us-east-1"

SPECS = {
    "ECC_NIST_P256": ("ec", "secp256r1"),
    "ECC_NIST_P384": ("ec", "secp384r1"),
    "ECC_NIST_EDWARDS25519": ("ed25519", None),
    "RSA_2048": ("rsa", 2048),
    "RSA_3072": ("rsa", 3072),
}
# RSA_4096 is left to the release-build Rust test (crates/kmsd-core/tests/kms_data_key_pair.rs):
# generating it in the debug binary these tests run takes seconds.


def world() -> dict:
    ec_only = {
        "Effect": "Allow",
        "Action": "kms:GenerateDataKeyPair",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:DataKeyPairSpec": "ECC_NIST_P256"}},
    }
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
        user(ACCT_A, "carol"),
        user(ACCT_A, "ecuser", inline={"EcOnly": doc(ec_only)}),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


@pytest.fixture(scope="module")
def key(kms):
    return kms.create_key(Description="data key pairs")["KeyMetadata"]


def check_keys(spec: str, private_der: bytes, public_der: bytes) -> None:
    """The DER keys are of `spec` and belong together."""
    kind, size = SPECS[spec]
    public = serialization.load_der_public_key(public_der)
    private = serialization.load_der_private_key(private_der, password=None)
    assert private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public_der
    message = b"data key pair"
    if kind == "ed25519":
        assert isinstance(public, ed25519.Ed25519PublicKey)
        # RFC 8410 PKCS#8 v1, as OpenSSL writes it.
        assert private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) == private_der
        public.verify(private.sign(message), message)
    elif kind == "ec":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert public.curve.name == size
        sig = private.sign(message, ec.ECDSA(hashes.SHA256()))
        public.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == size
        assert public.public_numbers().e == 65537
        assert private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) == private_der
        sig = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        public.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_generate_data_key_pair(kms, key, spec):
    ec_ctx = {"purpose": "e2e", "spec": spec}
    started = time.monotonic()
    resp = kms.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec=spec, EncryptionContext=ec_ctx)
    elapsed = time.monotonic() - started
    print(f"{spec}: {elapsed:.3f}s")
    assert resp["KeyId"] == key["Arn"]
    assert resp["KeyPairSpec"] == spec
    assert len(resp["KeyMaterialId"]) == 64
    check_keys(spec, resp["PrivateKeyPlaintext"], resp["PublicKey"])
    dec = kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext=ec_ctx)
    assert dec["KeyId"] == key["Arn"]
    assert dec["Plaintext"] == resp["PrivateKeyPlaintext"]
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"])


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048"])
def test_without_plaintext(kms, key, spec):
    resp = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in resp
    assert resp["KeyPairSpec"] == spec
    dec = kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], KeyId=key["Arn"])
    check_keys(spec, dec["Plaintext"], resp["PublicKey"])


def test_each_call_is_a_fresh_pair(kms, key):
    a = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    b = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert a["PublicKey"] != b["PublicKey"]
    assert a["PrivateKeyPlaintext"] != b["PrivateKeyPlaintext"]


def test_validation_and_unsupported_specs(kms, key):
    with aws_error("ValidationException", 400) as err:
        kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="RSA_1024")
    assert "keyPairSpec" in err["Message"]
    # SM2 exists only in China Regions; every other DataKeyPairSpec is generated (see
    # test_asymmetric.py for P-521, secp256k1 and ML-KEM pairs).
    with aws_error("UnsupportedOperationException") as err:
        kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec="SM2")
    assert "SM2" in err["Message"]
    for spec in ("ECC_NIST_P521", "ECC_SECG_P256K1", "ML_KEM_768"):
        out = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec=spec)
        assert out["KeyPairSpec"] == spec
    with aws_error("DryRunOperationException"):
        kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="RSA_2048", DryRun=True)


def test_access_through_iam_condition_and_grant(server, kms, key):
    carol = server.client("kms", user_creds(ACCT_A, "carol"))
    ecuser = server.client("kms", user_creds(ACCT_A, "ecuser"))
    with aws_error("AccessDeniedException") as err:
        carol.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    assert "kms:GenerateDataKeyPair" in err["Message"]
    # kms:DataKeyPairSpec in the IAM policy.
    ok = ecuser.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    check_keys("ECC_NIST_P256", ok["PrivateKeyPlaintext"], ok["PublicKey"])
    with aws_error("AccessDeniedException"):
        ecuser.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P384")
    with aws_error("AccessDeniedException"):
        ecuser.generate_data_key_pair_without_plaintext(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    # A grant for the pair operations.
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=f"arn:aws:iam::{ACCT_A}:user/carol",
        Operations=["GenerateDataKeyPairWithoutPlaintext", "Decrypt"],
        Constraints={"EncryptionContextEquals": {"tenant": "c"}},
    )
    resp = carol.generate_data_key_pair_without_plaintext(
        KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P384",
        EncryptionContext={"tenant": "c"}, GrantTokens=[grant["GrantToken"]],
    )
    dec = carol.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext={"tenant": "c"})
    check_keys("ECC_NIST_P384", dec["Plaintext"], resp["PublicKey"])
    with aws_error("AccessDeniedException"):
        carol.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P384",
                                     EncryptionContext={"tenant": "c"})
    with aws_error("AccessDeniedException"):
        carol.generate_data_key_pair_without_plaintext(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P384",
                                                       EncryptionContext={"tenant": "d"})


def test_disabled_key(kms):
    md = kms.create_key(Description="to disable")["KeyMetadata"]
    kms.disable_key(KeyId=md["KeyId"])
    with aws_error("DisabledException") as err:
        kms.generate_data_key_pair(KeyId=md["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert err["Message"] == f"{md['Arn']} is disabled."
    kms.enable_key(KeyId=md["KeyId"])
    kms.generate_data_key_pair_without_plaintext(KeyId=md["KeyId"], KeyPairSpec="ECC_NIST_P256")
