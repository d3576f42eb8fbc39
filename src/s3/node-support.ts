/**
 * The AWS SDK's Node version warning. On Node older than 22 its first client
 * prints a nine-line NodeVersionSupportWarning (its releases after the first
 * week of January 2027 need Node 22); the server says so in one line of its
 * own at start-up (`nodeSupportNotice`) and turns the SDK's off with the
 * switch the SDK reads for exactly that warning (`quietSdkNodeWarning`),
 * leaving every other warning alone.
 */

/** The oldest Node major line the AWS SDK's releases after January 2027 run on. */
const SDK_NODE_MAJOR = 22;

/** One line for the operator when `version` (e.g. `v20.19.0`) is older than the SDK will support; undefined otherwise. */
export function nodeSupportNotice(version: string = process.version): string | undefined {
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  if (!(major < SDK_NODE_MAJOR)) return undefined;
  return `Node ${version} works, but AWS SDK releases after January 2027 need Node ${SDK_NODE_MAJOR} or later: plan a move to Node 22 or 24.`;
}

/** Turns off the SDK's own NodeVersionSupportWarning (its documented switch; no other warning is affected). */
export function quietSdkNodeWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
