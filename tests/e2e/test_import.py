"""Imported key material (Origin EXTERNAL) end to end.

- The aws CLI following the Developer Guide's own procedure: create-key --origin EXTERNAL,
  get-parameters-for-import, `openssl rand` key material, `openssl pkeyutl -encrypt` with
  OAEP SHA-256 under the DER public key, import-key-material with the token file; then
  encrypt/decrypt, delete-imported-key-material and reimport of the same file (the old
  ciphertext decrypts again). The RSA_AES_KEY_WRAP_SHA_256 procedure with `openssl enc
  -id-aes256-wrap-pad` as well.
- boto3 with every wrapping algorithm (material wrapped with the `cryptography` package),
  an imported HMAC key whose GenerateMac equals Python's `hmac` over the imported bytes,
  bad input (another key's token, garbage token, malformed or wrong-length material,
  material for another wrapping key) answered with AWS's errors and changing nothing, import
  operations on an AWS_KMS key, and durability across SIGKILL (parameters and material).
- Imported asymmetric keys: a P-256 private key made by `cryptography` (PKCS#8 DER, wrapped
  with RSAES_OAEP_SHA_256): GetPublicKey equals the locally derived public key and a kmsd
  signature verifies with it; only the same key pair reimports. An RSA-2048 private key
  (RSA_AES_KEY_WRAP_SHA_256; RSAES_OAEP_* refused for RSA keys) decrypts what `cryptography`
  encrypted; a key of another size is IncorrectKeyMaterialException and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from kmsd_harness import aws_error, run_aws_cli
from worlds import ACCT_A, account, allow, doc, user, user_creds

REGION = "us-east-1"


def world() -> dict:
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def cli(server, *args) -> dict:
    proc = run_aws_cli(server.endpoint, user_creds(ACCT_A, "admin"), list(args), region=REGION)
    assert proc.returncode == 0, f"aws exited {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def cli_error(server, *args) -> str:
    proc = run_aws_cli(server.endpoint, user_creds(ACCT_A, "admin"), list(args), region=REGION)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def openssl(*args) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def wrap(public_der: bytes, alg: str, material: bytes) -> bytes:
    pub = serialization.load_der_public_key(public_der)
    md = hashes.SHA1() if alg.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=md), algorithm=md, label=None)
    if alg.startswith("RSAES_OAEP"):
        return pub.encrypt(material, oaep)
    aes = os.urandom(32)
    return pub.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)


def import_material(kms, key_id: str, material: bytes, alg: str = "RSAES_OAEP_SHA_256",
                    spec: str = "RSA_2048", **extra) -> dict:
    p = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=alg, WrappingKeySpec=spec)
    return kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"],
                                   EncryptedKeyMaterial=wrap(p["PublicKey"], alg, material),
                                   ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **extra)


def test_cli_developer_guide_procedure_with_openssl(server, tmp_path):
    md = cli(server, "kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]
    assert md["Origin"] == "EXTERNAL"
    assert md["KeyState"] == "PendingImport"
    key_id = md["KeyId"]
    params = cli(server, "kms", "get-parameters-for-import", "--key-id", key_id,
                 "--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048")
    (tmp_path / "PublicKey.bin").write_bytes(base64.b64decode(params["PublicKey"]))
    (tmp_path / "ImportToken.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    openssl("rand", "-out", str(tmp_path / "PlaintextKeyMaterial.bin"), "32")
    openssl("pkeyutl", "-encrypt", "-in", str(tmp_path / "PlaintextKeyMaterial.bin"),
            "-out", str(tmp_path / "EncryptedKeyMaterial.bin"),
            "-inkey", str(tmp_path / "PublicKey.bin"), "-keyform", "DER", "-pubin",
            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256")
    out = cli(server, "kms", "import-key-material", "--key-id", key_id,
              "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
              "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
              "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert out["KeyId"] == md["Arn"]
    material_id = out["KeyMaterialId"]
    assert len(material_id) == 64
    md = cli(server, "kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert md["KeyState"] == "Enabled"
    assert md["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert md["CurrentKeyMaterialId"] == material_id

    (tmp_path / "plain.txt").write_bytes(b"imported key, cli")
    enc = cli(server, "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'plain.txt'}")
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = cli(server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}")
    assert base64.b64decode(dec["Plaintext"]) == b"imported key, cli"

    deleted = cli(server, "kms", "delete-imported-key-material", "--key-id", key_id)
    assert deleted["KeyMaterialId"] == material_id
    assert cli(server, "kms", "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert "KMSInvalidStateException" in cli_error(
        server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}")

    # Reimport of the same material file (same token, still valid) restores the key.
    cli(server, "kms", "import-key-material", "--key-id", key_id,
        "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
        "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    dec = cli(server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}")
    assert base64.b64decode(dec["Plaintext"]) == b"imported key, cli"

    # Different material: IncorrectKeyMaterialException.
    openssl("rand", "-out", str(tmp_path / "Other.bin"), "32")
    openssl("pkeyutl", "-encrypt", "-in", str(tmp_path / "Other.bin"),
            "-out", str(tmp_path / "OtherEncrypted.bin"),
            "-inkey", str(tmp_path / "PublicKey.bin"), "-keyform", "DER", "-pubin",
            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256")
    assert "IncorrectKeyMaterialException" in cli_error(
        server, "kms", "import-key-material", "--key-id", key_id,
        "--encrypted-key-material", f"fileb://{tmp_path / 'OtherEncrypted.bin'}",
        "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")


def test_cli_rsa_aes_key_wrap_with_openssl(server, tmp_path):
    key_id = cli(server, "kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    params = cli(server, "kms", "get-parameters-for-import", "--key-id", key_id,
                 "--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_256", "--wrapping-key-spec", "RSA_3072")
    (tmp_path / "PublicKey.bin").write_bytes(base64.b64decode(params["PublicKey"]))
    (tmp_path / "ImportToken.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    openssl("rand", "-out", str(tmp_path / "PlaintextKeyMaterial.bin"), "32")
    openssl("rand", "-out", str(tmp_path / "aes-key.bin"), "32")
    aes_hex = (tmp_path / "aes-key.bin").read_bytes().hex()
    openssl("enc", "-id-aes256-wrap-pad", "-K", aes_hex, "-iv", "A65959A6",
            "-in", str(tmp_path / "PlaintextKeyMaterial.bin"), "-out", str(tmp_path / "material-wrapped.bin"))
    openssl("pkeyutl", "-encrypt", "-in", str(tmp_path / "aes-key.bin"), "-out", str(tmp_path / "aes-key-wrapped.bin"),
            "-inkey", str(tmp_path / "PublicKey.bin"), "-keyform", "DER", "-pubin",
            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
            "-pkeyopt", "rsa_mgf1_md:sha256")
    combined = (tmp_path / "aes-key-wrapped.bin").read_bytes() + (tmp_path / "material-wrapped.bin").read_bytes()
    (tmp_path / "EncryptedKeyMaterial.bin").write_bytes(combined)
    cli(server, "kms", "import-key-material", "--key-id", key_id,
        "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
        "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    (tmp_path / "plain.txt").write_bytes(b"wrapped with AES-KWP")
    enc = cli(server, "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'plain.txt'}")
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = cli(server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}")
    assert base64.b64decode(dec["Plaintext"]) == b"wrapped with AES-KWP"


@pytest.mark.parametrize("alg", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256",
                                 "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"])
def test_boto3_every_wrapping_algorithm(kms, alg):
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    out = import_material(kms, key_id, os.urandom(32), alg)
    assert len(out["KeyMaterialId"]) == 64
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"p"


def test_boto3_parameters_and_expiring_material(kms):
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    p = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                      WrappingKeySpec="RSA_2048")
    pub = serialization.load_der_public_key(p["PublicKey"])
    assert pub.key_size == 2048
    valid_for = p["ParametersValidTo"].timestamp() - __import__("time").time()
    assert 86_000 < valid_for <= 86_400
    valid_to = int(__import__("time").time()) + 3600
    kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"],
                            EncryptedKeyMaterial=wrap(p["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),
                            ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    md = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert int(md["ValidTo"].timestamp()) == valid_to
    with aws_error("ValidationException", 400):
        kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"],
                                EncryptedKeyMaterial=b"x" * 256, ExpirationModel="KEY_MATERIAL_EXPIRES")


@pytest.mark.parametrize("spec,digest,length", [("HMAC_224", "sha224", 40), ("HMAC_256", "sha256", 32),
                                                ("HMAC_384", "sha384", 100), ("HMAC_512", "sha512", 128)])
def test_imported_hmac_key_equals_python_hmac(kms, spec, digest, length):
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    material = os.urandom(length)
    import_material(kms, key_id, material, "RSA_AES_KEY_WRAP_SHA_256")
    alg = "HMAC_SHA_" + spec.split("_")[1]
    mac = kms.generate_mac(KeyId=key_id, Message=b"the message", MacAlgorithm=alg)["Mac"]
    assert mac == hmac.new(material, b"the message", getattr(hashlib, digest)).digest()
    assert kms.verify_mac(KeyId=key_id, Message=b"the message", MacAlgorithm=alg, Mac=mac)["MacValid"]


def test_bad_input_changes_nothing(kms):
    a = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    b = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    pa = kms.get_parameters_for_import(KeyId=a, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    pb = kms.get_parameters_for_import(KeyId=b, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    good = wrap(pa["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))
    cases = [
        ("InvalidImportTokenException", pb["ImportToken"], good),
        ("InvalidImportTokenException", b"garbage token", good),
        ("InvalidImportTokenException", pa["ImportToken"][:-5], good),
        ("InvalidCiphertextException", pa["ImportToken"], b"\x00" * 256),
        ("InvalidCiphertextException", pa["ImportToken"], good[:100]),
        ("InvalidCiphertextException", pa["ImportToken"], wrap(pb["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))),
        ("InvalidCiphertextException", pa["ImportToken"], wrap(pa["PublicKey"], "RSAES_OAEP_SHA_1", os.urandom(32))),
        ("IncorrectKeyMaterialException", pa["ImportToken"], wrap(pa["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(16))),
        ("IncorrectKeyMaterialException", pa["ImportToken"], wrap(pa["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(33))),
    ]
    for code, token, material in cases:
        with aws_error(code, 400):
            kms.import_key_material(KeyId=a, ImportToken=token, EncryptedKeyMaterial=material,
                                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        assert kms.describe_key(KeyId=a)["KeyMetadata"]["KeyState"] == "PendingImport"
    with aws_error("NotFoundException", 400):
        kms.get_parameters_for_import(KeyId="11111111-2222-3333-4444-555555555555",
                                      WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    aws_key = kms.create_key()["KeyMetadata"]
    with aws_error("UnsupportedOperationException", 400) as e:
        kms.get_parameters_for_import(KeyId=aws_key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                      WrappingKeySpec="RSA_2048")
    assert e["Message"] == f"{aws_key['Arn']} origin is AWS_KMS which is not valid for this operation."
    with aws_error("UnsupportedOperationException", 400):
        kms.get_parameters_for_import(KeyId=a, WrappingAlgorithm="SM2PKE", WrappingKeySpec="SM2")


def test_parameters_and_material_survive_sigkill(launch):
    server = launch(world(), region=REGION)
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    p = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_1",
                                      WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    server.kill()
    server.restart()
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"],
                            EncryptedKeyMaterial=wrap(p["PublicKey"], "RSA_AES_KEY_WRAP_SHA_1", material),
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"durable")["CiphertextBlob"]
    server.kill()
    server.restart()
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"durable"
    # Neither the material nor the wrapping private key is in the data directory in the clear.
    blob = b"".join(f.read_bytes() for f in server.data_dir.rglob("*") if f.is_file())
    assert material not in blob
    assert b"PRIVATE KEY" not in blob


def pkcs8(private_key) -> bytes:
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def spki(private_key) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def test_imported_ecc_p256_key_is_the_local_key(kms):
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P256",
                            KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with aws_error("KMSInvalidStateException", 400):
        kms.get_public_key(KeyId=key_id)
    local = ec.generate_private_key(ec.SECP256R1())
    import_material(kms, key_id, pkcs8(local), alg="RSAES_OAEP_SHA_256", spec="RSA_2048")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Origin"], meta["KeySpec"]) == ("Enabled", "EXTERNAL", "ECC_NIST_P256")
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(local)
    sig = kms.sign(KeyId=key_id, Message=b"imported p-256", MessageType="RAW",
                   SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    local.public_key().verify(sig, b"imported p-256", ec.ECDSA(hashes.SHA256()))
    mine = local.sign(b"signed outside", ec.ECDSA(hashes.SHA256()))
    assert kms.verify(KeyId=key_id, Message=b"signed outside", Signature=mine,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True
    # Another key pair is not the imported material; the same one comes back after a delete.
    with aws_error("IncorrectKeyMaterialException", 400):
        import_material(kms, key_id, pkcs8(ec.generate_private_key(ec.SECP256R1())))
    kms.delete_imported_key_material(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with aws_error("KMSInvalidStateException", 400):
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    import_material(kms, key_id, pkcs8(local), alg="RSA_AES_KEY_WRAP_SHA_1", spec="RSA_3072")
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(local)


def test_imported_rsa_key_decrypts_what_cryptography_encrypted(kms):
    key_id = kms.create_key(Origin="EXTERNAL", KeySpec="RSA_2048",
                            KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    for alg in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
        with aws_error("ValidationException", 400):
            kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=alg, WrappingKeySpec="RSA_4096")
    # A private key of another size is not RSA_2048 material: refused, nothing changes.
    with aws_error("IncorrectKeyMaterialException", 400):
        import_material(kms, key_id, pkcs8(rsa.generate_private_key(65537, 3072)),
                        alg="RSA_AES_KEY_WRAP_SHA_256")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    local = rsa.generate_private_key(65537, 2048)
    import_material(kms, key_id, pkcs8(local), alg="RSA_AES_KEY_WRAP_SHA_256")
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(local)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ct = local.public_key().encrypt(b"for the imported key", oaep)
    out = kms.decrypt(KeyId=key_id, CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"for the imported key"
    back = kms.encrypt(KeyId=key_id, Plaintext=b"and back", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert local.decrypt(back["CiphertextBlob"], oaep) == b"and back"
