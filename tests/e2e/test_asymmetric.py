"""Asymmetric KMS keys through boto3, checked outside kmsd: every signature is verified with
Python `cryptography` and (where OpenSSL 3.0 has the algorithm) with `openssl dgst` /
`openssl pkeyutl` on the GetPublicKey DER; RSA ciphertexts made by `cryptography` decrypt in
kmsd; ECDH secrets equal `cryptography`'s; ML-DSA signatures verify with `cryptography`'s
ML-DSA (an independent implementation) and ML-KEM ciphertexts made by `cryptography` decapsulate
in kmsd. Also: DescribeKey/GetPublicKey fields, invalid KeySpec x KeyUsage pairs, AWS's errors
for bad input (wrong algorithm, wrong usage, digest length, oversized message, garbage signature,
garbage ECDH public key), the kms:SigningAlgorithm condition key, rotation refused, grants,
the aws CLI once, and keys surviving a restart.

World: account 111122223333 with `admin` (IAM allows kms:*) and `ecdsa256` (allows kms:Sign
only with kms:SigningAlgorithm ECDSA_SHA_256).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa, utils

from kmsd_harness import aws_error, run_aws_cli
from worlds import ACCT_A, account, allow, doc, user, user_creds

REGION = "us-east-1"

SIGN_SPECS = ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
              "ECC_NIST_EDWARDS25519", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87"]
RSA_SIGNING = ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
               "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"]
EXPECTED_SIGNING = {
    "RSA_2048": RSA_SIGNING, "RSA_3072": RSA_SIGNING, "RSA_4096": RSA_SIGNING,
    "ECC_NIST_P256": ["ECDSA_SHA_256"], "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"], "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    "ML_DSA_44": ["ML_DSA_SHAKE_256"], "ML_DSA_65": ["ML_DSA_SHAKE_256"],
    "ML_DSA_87": ["ML_DSA_SHAKE_256"],
}
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
MESSAGE = b"kmsd asymmetric e2e message \x00\x01\xff"


def world() -> dict:
    only_256 = allow("kms:Sign", condition={"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}})
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
        user(ACCT_A, "ecdsa256", inline={"Only256": doc(only_256)}),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


@pytest.fixture(scope="module")
def raw_kms(server):
    """A client without botocore's parameter validation, to send what AWS's server checks."""
    return server.client("kms", user_creds(ACCT_A, "admin"), validate=False)


_keys: dict = {}


def key(kms, spec: str, usage: str) -> dict:
    if (spec, usage) not in _keys:
        _keys[(spec, usage)] = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    return _keys[(spec, usage)]


def public_key(kms, key_id: str):
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    return der, serialization.load_der_public_key(der)


def hash_of(alg: str) -> hashes.HashAlgorithm:
    return HASHES[alg[-3:]]()


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def openssl_verify(tmp_path, der: bytes, alg: str, message: bytes, sig: bytes) -> None:
    """Verify with the openssl CLI over the original message; asserts success."""
    (tmp_path / "pub.der").write_bytes(der)
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(sig)
    pub, msg, sigf = str(tmp_path / "pub.der"), str(tmp_path / "msg"), str(tmp_path / "sig")
    if alg == "ED25519_SHA_512":
        p = openssl("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-rawin",
                    "-in", msg, "-sigfile", sigf)
    else:
        extra = []
        if alg.startswith("RSASSA_PSS"):
            extra = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
        p = openssl("dgst", f"-sha{alg[-3:]}", "-keyform", "DER", "-verify", pub, *extra,
                    "-signature", sigf, msg)
    ok_text = ("Verified OK", "Signature Verified Successfully")
    assert p.returncode == 0 and any(t in p.stdout for t in ok_text), (alg, p.stdout, p.stderr)
    # A modified message does not verify.
    (tmp_path / "msg").write_bytes(message + b"!")
    if alg == "ED25519_SHA_512":
        bad = openssl("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-rawin",
                      "-in", msg, "-sigfile", sigf)
    else:
        bad = openssl("dgst", f"-sha{alg[-3:]}", "-keyform", "DER", "-verify", pub, *extra,
                      "-signature", sigf, msg)
    assert bad.returncode != 0 and not any(t in bad.stdout for t in ok_text), alg


def crypto_verify(pub, alg: str, message: bytes, sig: bytes) -> None:
    """Verify with `cryptography` (raises InvalidSignature on failure)."""
    if alg.startswith("RSASSA_PSS"):
        h = hash_of(alg)
        pub.verify(sig, message, padding.PSS(padding.MGF1(h), h.digest_size), h)
    elif alg.startswith("RSASSA_PKCS1"):
        pub.verify(sig, message, padding.PKCS1v15(), hash_of(alg))
    elif alg.startswith("ECDSA"):
        pub.verify(sig, message, ec.ECDSA(hash_of(alg)))
    elif alg == "ED25519_SHA_512":
        pub.verify(sig, message)
    elif alg == "ML_DSA_SHAKE_256":
        pub.verify(sig, message)
    else:
        raise AssertionError(alg)


# ----------------------------------------------------------------------- CreateKey/DescribeKey

VALID_PAIRS = [
    ("RSA_2048", "ENCRYPT_DECRYPT"), ("RSA_2048", "SIGN_VERIFY"), ("RSA_3072", "SIGN_VERIFY"),
    ("ECC_NIST_P256", "SIGN_VERIFY"), ("ECC_NIST_P256", "KEY_AGREEMENT"),
    ("ECC_NIST_P384", "SIGN_VERIFY"), ("ECC_NIST_P384", "KEY_AGREEMENT"),
    ("ECC_NIST_P521", "SIGN_VERIFY"), ("ECC_NIST_P521", "KEY_AGREEMENT"),
    ("ECC_SECG_P256K1", "SIGN_VERIFY"), ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
    ("ML_DSA_44", "SIGN_VERIFY"), ("ML_DSA_65", "SIGN_VERIFY"), ("ML_DSA_87", "SIGN_VERIFY"),
    ("ML_KEM_512", "ENCAPSULATE_DECAPSULATE"), ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
    ("ML_KEM_1024", "ENCAPSULATE_DECAPSULATE"),
]


@pytest.mark.parametrize("spec,usage", VALID_PAIRS)
def test_create_describe_and_get_public_key(kms, spec, usage):
    md = key(kms, spec, usage)
    assert md["KeySpec"] == spec and md["CustomerMasterKeySpec"] == spec
    assert md["KeyUsage"] == usage and md["KeyState"] == "Enabled" and md["Origin"] == "AWS_KMS"
    fields = {"SigningAlgorithms", "EncryptionAlgorithms", "KeyAgreementAlgorithms",
              "EncapsulationAlgorithms", "MacAlgorithms"}
    expected = {
        "SIGN_VERIFY": ("SigningAlgorithms", EXPECTED_SIGNING.get(spec)),
        "ENCRYPT_DECRYPT": ("EncryptionAlgorithms", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]),
        "KEY_AGREEMENT": ("KeyAgreementAlgorithms", ["ECDH"]),
        "ENCAPSULATE_DECAPSULATE": ("EncapsulationAlgorithms", ["ML_KEM"]),
    }[usage]
    described = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    for m in (md, described):
        assert m[expected[0]] == expected[1]
        assert not (fields - {expected[0]}) & set(m), m
    assert "CurrentKeyMaterialId" not in described
    got = kms.get_public_key(KeyId=md["KeyId"])
    assert got["KeyId"] == md["Arn"] and got["KeySpec"] == spec and got["KeyUsage"] == usage
    assert got[expected[0]] == expected[1]
    if not spec.startswith("ML_KEM"):
        # Every public key parses as DER SubjectPublicKeyInfo in `cryptography`.
        serialization.load_der_public_key(got["PublicKey"])
    else:
        size = {"ML_KEM_512": 800, "ML_KEM_768": 1184, "ML_KEM_1024": 1568}[spec]
        assert len(got["PublicKey"]) > size


@pytest.mark.parametrize("spec,usage", [
    ("RSA_2048", "KEY_AGREEMENT"), ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
    ("ECC_SECG_P256K1", "KEY_AGREEMENT"), ("ECC_NIST_EDWARDS25519", "KEY_AGREEMENT"),
    ("ML_DSA_65", "ENCRYPT_DECRYPT"), ("ML_KEM_768", "SIGN_VERIFY"),
    ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
])
def test_invalid_spec_usage_pairs(kms, spec, usage):
    with aws_error("ValidationException", 400) as e:
        kms.create_key(KeySpec=spec, KeyUsage=usage)
    assert e["Message"] == f"KeyUsage {usage} is not compatible with KeySpec {spec}"


def test_asymmetric_key_needs_a_usage(kms):
    with aws_error("ValidationException") as e:
        kms.create_key(KeySpec="ECC_NIST_P256")
    assert "KeyUsage" in e["Message"]


def test_get_public_key_of_symmetric_key_refused(kms):
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=sym)


# ---------------------------------------------------------------------------- Sign / Verify

def sign_cases():
    for spec in SIGN_SPECS:
        for alg in EXPECTED_SIGNING[spec]:
            if alg == "ED25519_PH_SHA_512":
                yield spec, alg, "DIGEST"
            elif alg == "ED25519_SHA_512":
                yield spec, alg, "RAW"
            elif alg == "ML_DSA_SHAKE_256":
                yield spec, alg, "RAW"
                yield spec, alg, "EXTERNAL_MU"
            else:
                yield spec, alg, "RAW"
                yield spec, alg, "DIGEST"


def message_for(alg: str, mt: str, der: bytes) -> bytes:
    if mt == "RAW":
        return MESSAGE
    if mt == "DIGEST":
        return hashlib.new(f"sha{alg[-3:]}", MESSAGE).digest()
    # EXTERNAL_MU (FIPS 204): mu = SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64), pk the raw key
    # (the BIT STRING contents at the end of the SPKI).
    pk_len = {1334: 1312, 1974: 1952, 2614: 2592}[len(der)]
    tr = hashlib.shake_256(der[-pk_len:]).digest(64)
    return hashlib.shake_256(tr + b"\x00\x00" + MESSAGE).digest(64)


@pytest.mark.parametrize("spec,alg,mt", list(sign_cases()))
def test_sign_verified_by_kmsd_cryptography_and_openssl(kms, tmp_path, spec, alg, mt):
    md = key(kms, spec, "SIGN_VERIFY")
    der, pub = public_key(kms, md["KeyId"])
    msg = message_for(alg, mt, der)
    out = kms.sign(KeyId=md["KeyId"], Message=msg, MessageType=mt, SigningAlgorithm=alg)
    assert out["KeyId"] == md["Arn"] and out["SigningAlgorithm"] == alg
    sig = out["Signature"]
    v = kms.verify(KeyId=md["KeyId"], Message=msg, MessageType=mt, Signature=sig,
                   SigningAlgorithm=alg)
    assert v["SignatureValid"] is True and v["SigningAlgorithm"] == alg
    if alg == "ED25519_PH_SHA_512":
        # Neither `cryptography` nor OpenSSL 3.0's CLI implements Ed25519ph; kmsd's Verify and
        # the RFC 8032 vector in the Rust tests cover it. The pure-Ed25519 check must fail.
        with pytest.raises(Exception):
            pub.verify(sig, MESSAGE)
        return
    # A DIGEST or EXTERNAL_MU signature is a signature over the original message.
    crypto_verify(pub, alg, MESSAGE, sig)
    with pytest.raises(Exception):
        crypto_verify(pub, alg, MESSAGE + b"!", sig)
    if not spec.startswith("ML_DSA"):
        openssl_verify(tmp_path, der, alg, MESSAGE, sig)


def test_signatures_made_by_cryptography_verify_in_kmsd(kms):
    """Verify in kmsd a signature it did not make: a DIGEST-mode signature from `cryptography`
    cannot be made without the private key, so instead re-sign: kmsd signs, the high-S twin of an
    ECDSA signature (equally valid) is built here and kmsd must accept it too."""
    md = key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    sig = kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    r, s = utils.decode_dss_signature(sig)
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    twin = utils.encode_dss_signature(r, n - s)
    assert kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=twin,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]


def test_bad_signature_is_an_error(kms):
    for spec, alg in [("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_256"),
                      ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"), ("ML_DSA_44", "ML_DSA_SHAKE_256")]:
        md = key(kms, spec, "SIGN_VERIFY")
        sig = kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm=alg)["Signature"]
        for bad_msg, bad_sig in [(MESSAGE + b"x", sig), (MESSAGE, sig[:-1] + bytes([sig[-1] ^ 1])),
                                 (MESSAGE, b"garbage")]:
            with aws_error("KMSInvalidSignatureException", 400) as e:
                kms.verify(KeyId=md["KeyId"], Message=bad_msg, Signature=bad_sig, SigningAlgorithm=alg)
            assert not e.get("Message"), e


def test_wrong_algorithm_usage_and_digest_length(kms, raw_kms):
    p256 = key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    arn = p256["Arn"]
    with aws_error("InvalidKeyUsageException") as e:
        kms.sign(KeyId=arn, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")
    assert e["Message"] == "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=arn, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
    with aws_error("ValidationException") as e:
        kms.sign(KeyId=arn, Message=b"\x00" * 31, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    assert e["Message"] == "Digest is invalid length for algorithm ECDSA_SHA_256."
    with aws_error("ValidationException"):
        kms.verify(KeyId=arn, Message=b"\x00" * 48, MessageType="DIGEST", Signature=b"\x30\x00",
                   SigningAlgorithm="ECDSA_SHA_256")
    # The 4096-byte RAW limit is a model constraint: AWS's server checks it too.
    with aws_error("ValidationException") as e:
        raw_kms.sign(KeyId=arn, Message=b"\x00" * 4097, SigningAlgorithm="ECDSA_SHA_256")
    assert "4096" in e["Message"]
    kms.sign(KeyId=arn, Message=b"\x00" * 4096, SigningAlgorithm="ECDSA_SHA_256")
    # Wrong usage both ways.
    enc = key(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    with aws_error("InvalidKeyUsageException") as e:
        kms.sign(KeyId=enc["KeyId"], Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert e["Message"] == f"{enc['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign."
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=arn, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=sym, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    # MessageType not valid for the algorithm.
    ed = key(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    with aws_error("ValidationException"):
        kms.sign(KeyId=ed["KeyId"], Message=b"\x00" * 64, MessageType="DIGEST",
                 SigningAlgorithm="ED25519_SHA_512")
    with aws_error("ValidationException"):
        kms.sign(KeyId=p256["KeyId"], Message=b"\x00" * 64, MessageType="EXTERNAL_MU",
                 SigningAlgorithm="ECDSA_SHA_256")
    # DryRun.
    with aws_error("DryRunOperationException"):
        kms.sign(KeyId=arn, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256", DryRun=True)


def test_signing_algorithm_condition_key(server, kms):
    p256 = key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    rsa_key = key(kms, "RSA_2048", "SIGN_VERIFY")
    c = server.client("kms", user_creds(ACCT_A, "ecdsa256"))
    c.sign(KeyId=p256["Arn"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    with aws_error("AccessDeniedException"):
        c.sign(KeyId=rsa_key["Arn"], Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
    with aws_error("AccessDeniedException"):
        c.verify(KeyId=p256["Arn"], Message=MESSAGE, Signature=b"x", SigningAlgorithm="ECDSA_SHA_256")


# ------------------------------------------------------------------------------ RSA encryption

def test_rsa_oaep_ciphertexts_from_cryptography_decrypt_in_kmsd(kms):
    md = key(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    _, pub = public_key(kms, md["KeyId"])
    for alg, h, limit in [("RSAES_OAEP_SHA_1", hashes.SHA1, 214), ("RSAES_OAEP_SHA_256", hashes.SHA256, 190)]:
        pt = bytes(range(256))[:limit]
        ct = pub.encrypt(pt, padding.OAEP(padding.MGF1(h()), h(), None))
        out = kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=ct, EncryptionAlgorithm=alg)
        assert out["Plaintext"] == pt and out["EncryptionAlgorithm"] == alg and out["KeyId"] == md["Arn"]
        # kmsd's own ciphertext round-trips; the limit is AWS's.
        enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)
        assert len(enc["CiphertextBlob"]) == 256
        assert kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=enc["CiphertextBlob"],
                           EncryptionAlgorithm=alg)["Plaintext"] == pt
        with aws_error("ValidationException"):
            kms.encrypt(KeyId=md["KeyId"], Plaintext=pt + b"x", EncryptionAlgorithm=alg)
        # The wrong OAEP hash does not decrypt.
        other = "RSAES_OAEP_SHA_256" if alg == "RSAES_OAEP_SHA_1" else "RSAES_OAEP_SHA_1"
        with aws_error("InvalidCiphertextException"):
            kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=ct, EncryptionAlgorithm=other)
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    with aws_error("ValidationException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256",
                    EncryptionContext={"a": "b"})
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=b"\x01" * 256, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")


def test_re_encrypt_between_symmetric_and_rsa(kms):
    rsa_key = key(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    sym = kms.create_key()["KeyMetadata"]
    _, pub = public_key(kms, rsa_key["KeyId"])
    pt = b"re-encrypt me"
    # RSA -> symmetric: the source ciphertext is made by `cryptography`.
    rsa_ct = pub.encrypt(pt, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    out = kms.re_encrypt(CiphertextBlob=rsa_ct, SourceKeyId=rsa_key["KeyId"],
                         SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                         DestinationKeyId=sym["KeyId"], DestinationEncryptionContext={"k": "v"})
    assert out["SourceKeyId"] == rsa_key["Arn"] and out["KeyId"] == sym["Arn"]
    assert out["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert out["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"] == pt
    # symmetric -> RSA.
    sym_ct = kms.encrypt(KeyId=sym["KeyId"], Plaintext=pt)["CiphertextBlob"]
    back = kms.re_encrypt(CiphertextBlob=sym_ct, DestinationKeyId=rsa_key["KeyId"],
                          DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert back["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert kms.decrypt(KeyId=rsa_key["KeyId"], CiphertextBlob=back["CiphertextBlob"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == pt
    with aws_error("InvalidKeyUsageException"):
        kms.re_encrypt(CiphertextBlob=sym_ct, DestinationKeyId=rsa_key["KeyId"])


# ------------------------------------------------------------------------------------- ECDH

@pytest.mark.parametrize("spec,curve", [("ECC_NIST_P256", ec.SECP256R1), ("ECC_NIST_P384", ec.SECP384R1),
                                        ("ECC_NIST_P521", ec.SECP521R1)])
def test_ecdh_secret_equals_cryptography(kms, spec, curve):
    md = key(kms, spec, "KEY_AGREEMENT")
    _, kms_pub = public_key(kms, md["KeyId"])
    mine = ec.generate_private_key(curve())
    spki = mine.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=spki)
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), kms_pub)
    assert out["KeyAgreementAlgorithm"] == "ECDH" and out["KeyOrigin"] == "AWS_KMS"
    assert out["KeyId"] == md["Arn"]
    for garbage in [b"garbage", spki[:-1], ec.generate_private_key(ec.SECP256K1()).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)]:
        with aws_error("ValidationException"):
            kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=garbage)
    sign_key = key(kms, spec, "SIGN_VERIFY")
    with aws_error("InvalidKeyUsageException"):
        kms.derive_shared_secret(KeyId=sign_key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=spki)


# ------------------------------------------------------------------------------------ ML-KEM

def test_ml_kem_encapsulate_decapsulate(kms):
    md = key(kms, "ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
    enc = kms.encapsulate(KeyId=md["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert len(enc["SharedSecret"]) == 32 and len(enc["SharedSecretCiphertextBlob"]) == 1088
    dec = kms.decapsulate(KeyId=md["KeyId"], EncapsulationAlgorithm="ML_KEM",
                          SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"])
    assert dec["SharedSecret"] == enc["SharedSecret"]
    # A ciphertext made by `cryptography` against GetPublicKey decapsulates to its secret.
    pub = mlkem.MLKEM768PublicKey.from_public_bytes(
        kms.get_public_key(KeyId=md["KeyId"])["PublicKey"][-1184:])
    secret, ct = pub.encapsulate()
    assert kms.decapsulate(KeyId=md["KeyId"], EncapsulationAlgorithm="ML_KEM",
                           SharedSecretCiphertextBlob=ct)["SharedSecret"] == secret
    with aws_error("InvalidCiphertextException"):
        kms.decapsulate(KeyId=md["KeyId"], EncapsulationAlgorithm="ML_KEM",
                        SharedSecretCiphertextBlob=ct[:-1])


# ------------------------------------------------------------------- lifecycle, grants, CLI

def test_rotation_refused_and_states(kms):
    md = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with aws_error("UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=md["KeyId"])
    with aws_error("UnsupportedOperationException"):
        kms.rotate_key_on_demand(KeyId=md["KeyId"])
    kms.disable_key(KeyId=md["KeyId"])
    with aws_error("DisabledException"):
        kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    with aws_error("DisabledException"):
        kms.get_public_key(KeyId=md["KeyId"])
    kms.enable_key(KeyId=md["KeyId"])
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    with aws_error("KMSInvalidStateException"):
        kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")


def test_grants_on_asymmetric_keys(kms):
    md = key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    grantee = f"arn:aws:iam::{ACCT_A}:user/ecdsa256"
    g = kms.create_grant(KeyId=md["KeyId"], GranteePrincipal=grantee,
                         Operations=["Sign", "Verify", "GetPublicKey"])
    assert g["GrantId"]
    with aws_error("ValidationException"):
        kms.create_grant(KeyId=md["KeyId"], GranteePrincipal=grantee, Operations=["GenerateDataKey"])


def test_aws_cli_signs_and_verifies(server, kms, tmp_path):
    md = key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    msg = tmp_path / "m"
    msg.write_bytes(MESSAGE)
    creds = user_creds(ACCT_A, "admin")
    p = run_aws_cli(server.endpoint, creds, ["kms", "sign", "--key-id", md["KeyId"], "--message",
                                             f"fileb://{msg}", "--signing-algorithm", "ECDSA_SHA_256"])
    assert p.returncode == 0, p.stderr
    sig = base64.b64decode(json.loads(p.stdout)["Signature"])
    (tmp_path / "s").write_bytes(sig)
    p = run_aws_cli(server.endpoint, creds, ["kms", "verify", "--key-id", md["KeyId"], "--message",
                                             f"fileb://{msg}", "--signature", f"fileb://{tmp_path / 's'}",
                                             "--signing-algorithm", "ECDSA_SHA_256"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["SignatureValid"] is True
    _, pub = public_key(kms, md["KeyId"])
    crypto_verify(pub, "ECDSA_SHA_256", MESSAGE, sig)


def test_generate_data_key_pair_new_specs(kms):
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    for spec in ["ECC_NIST_P521", "ECC_SECG_P256K1", "ML_KEM_768"]:
        out = kms.generate_data_key_pair(KeyId=sym, KeyPairSpec=spec)
        assert out["KeyPairSpec"] == spec
        if spec.startswith("ECC"):
            priv = serialization.load_der_private_key(out["PrivateKeyPlaintext"], None)
            pub = serialization.load_der_public_key(out["PublicKey"])
            assert priv.public_key().public_numbers() == pub.public_numbers()
        assert kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"] == out["PrivateKeyPlaintext"]


def test_keys_survive_restart(launch):
    server = launch(world(), region=REGION)
    c = server.client("kms", user_creds(ACCT_A, "admin"))
    made = {}
    for spec, usage in [("ECC_NIST_P256", "SIGN_VERIFY"), ("ML_DSA_44", "SIGN_VERIFY"),
                        ("RSA_2048", "ENCRYPT_DECRYPT"), ("ML_KEM_512", "ENCAPSULATE_DECAPSULATE")]:
        kid = c.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
        made[kid] = c.get_public_key(KeyId=kid)["PublicKey"]
    server.kill()
    server.restart()
    c = server.client("kms", user_creds(ACCT_A, "admin"))
    for kid, der in made.items():
        assert c.get_public_key(KeyId=kid)["PublicKey"] == der
    p256 = next(k for k in made if c.describe_key(KeyId=k)["KeyMetadata"]["KeySpec"] == "ECC_NIST_P256")
    sig = c.sign(KeyId=p256, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    serialization.load_der_public_key(made[p256]).verify(sig, MESSAGE, ec.ECDSA(hashes.SHA256()))
    # No private key in the clear on disk: the PKCS#8 prefix of a P-256 key never appears.
    blob = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
    assert b"\x30\x81\x87\x02\x01\x00\x30\x13" not in blob
