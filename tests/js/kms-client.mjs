// The AWS SDK for JavaScript v3 against a running kmsd with the seed world
// (examples/seed-world.json): create a key, encrypt, decrypt, a denied call with AWS's typed
// error, and AssumeRole across accounts. Run by tests/e2e/test_sdk_js.py, which starts the
// server and passes its endpoint in KMSD_ENDPOINT. Prints one JSON object on success; any
// failed expectation throws (non-zero exit status).
import assert from "node:assert/strict";
// The SDK's packages are CommonJS: import them whole.
import kmsSdk from "@aws-sdk/client-kms";
import stsSdk from "@aws-sdk/client-sts";

const {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  KMSServiceException,
  NotFoundException,
} = kmsSdk;

// The KMS model declares no AccessDeniedException shape: the SDK surfaces AWS's
// AccessDeniedException as its service exception class, named by the error code.
function assertAccessDenied(e) {
  assert.ok(e instanceof KMSServiceException, `expected a KMSServiceException, got ${e}`);
  assert.equal(e.name, "AccessDeniedException");
  assert.equal(e.$fault, "client");
  assert.equal(e.$metadata.httpStatusCode, 400);
}
const { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } = stsSdk;

const endpoint = process.env.KMSD_ENDPOINT;
assert.ok(endpoint, "KMSD_ENDPOINT is not set");
const region = "us-west-2";
const ACCT_A = "111122223333";
const ACCT_B = "444455556666";
const CROSS_KEY_ARN = `arn:aws:kms:${region}:${ACCT_B}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ROLE_ARN = `arn:aws:iam::${ACCT_A}:role/ExampleRole`;

const root = {
  accessKeyId: "AKIA111122223333ROOT",
  secretAccessKey: "seed-root-secret-111122223333",
};
const alice = {
  accessKeyId: "AKIAALICE00000000001",
  secretAccessKey: "seed-alice-secret-0000000000000000000001",
};
const bob = {
  accessKeyId: "AKIABOB0000000000001",
  secretAccessKey: "seed-bob-secret-000000000000000000000001",
};

// No retries: a failure must show as it is.
const kms = (credentials) => new KMSClient({ endpoint, region, credentials, maxAttempts: 1 });
const sts = (credentials) => new STSClient({ endpoint, region, credentials, maxAttempts: 1 });
const text = new TextEncoder();
const bytesEqual = (a, b) => Buffer.from(a).equals(Buffer.from(b));

const out = {};

// 1. Create, encrypt, decrypt (account 111122223333's root).
const rootKms = kms(root);
const created = await rootKms.send(
  new CreateKeyCommand({ Description: "made by the JavaScript SDK" }),
);
const keyId = created.KeyMetadata.KeyId;
assert.equal(created.KeyMetadata.KeyState, "Enabled");
assert.equal(created.KeyMetadata.AWSAccountId, ACCT_A);
const plaintext = text.encode("hello from aws-sdk-js-v3");
const enc = await rootKms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
assert.equal(enc.KeyId, created.KeyMetadata.Arn);
assert.ok(!bytesEqual(enc.CiphertextBlob, plaintext));
const dec = await rootKms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
assert.ok(bytesEqual(dec.Plaintext, plaintext), "Decrypt returned other bytes");
assert.equal(dec.KeyId, created.KeyMetadata.Arn);
out.createdKeyArn = created.KeyMetadata.Arn;

// 2. A denied call: alice has no IAM policy; the key policy of alias/example-1 delegates to IAM.
try {
  await kms(alice).send(new EncryptCommand({ KeyId: "alias/example-1", Plaintext: plaintext }));
  assert.fail("alice's Encrypt was allowed");
} catch (e) {
  assertAccessDenied(e);
  assert.match(
    e.message,
    /^User: arn:aws:iam::111122223333:user\/alice is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:us-west-2:111122223333:key\/0987dcba-09fe-87dc-65ba-ab0987654321 because no identity-based policy allows the kms:Encrypt action$/,
  );
  out.deniedName = e.name;
  out.deniedMessage = e.message;
}
// An unknown key: NotFoundException, typed too.
try {
  await rootKms.send(new DescribeKeyCommand({ KeyId: "alias/no-such-alias" }));
  assert.fail("DescribeKey of a missing alias succeeded");
} catch (e) {
  assert.ok(e instanceof NotFoundException, `expected NotFoundException, got ${e.name}`);
  assert.equal(e.$metadata.httpStatusCode, 400);
}

// 3. AssumeRole across accounts: bob (111122223333) assumes ExampleRole and uses the key of
//    444455556666, which trusts account 111122223333.
const assumed = await sts(bob).send(
  new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "js-sdk" }),
);
const session = {
  accessKeyId: assumed.Credentials.AccessKeyId,
  secretAccessKey: assumed.Credentials.SecretAccessKey,
  sessionToken: assumed.Credentials.SessionToken,
};
assert.equal(assumed.AssumedRoleUser.Arn, `arn:aws:sts::${ACCT_A}:assumed-role/ExampleRole/js-sdk`);
const who = await sts(session).send(new GetCallerIdentityCommand({}));
assert.equal(who.Arn, assumed.AssumedRoleUser.Arn);
assert.equal(who.Account, ACCT_A);
const roleKms = kms(session);
const crossEnc = await roleKms.send(
  new EncryptCommand({ KeyId: CROSS_KEY_ARN, Plaintext: plaintext }),
);
assert.equal(crossEnc.KeyId, CROSS_KEY_ARN);
const crossDec = await roleKms.send(
  new DecryptCommand({ CiphertextBlob: crossEnc.CiphertextBlob }),
);
assert.ok(bytesEqual(crossDec.Plaintext, plaintext));
// bob himself (not the role) is not allowed to use the other account's key.
try {
  await kms(bob).send(new EncryptCommand({ KeyId: CROSS_KEY_ARN, Plaintext: plaintext }));
  assert.fail("bob's own Encrypt with the other account's key was allowed");
} catch (e) {
  assertAccessDenied(e);
}
out.assumedArn = who.Arn;
out.crossAccountKeyId = crossEnc.KeyId;

console.log(JSON.stringify(out));
