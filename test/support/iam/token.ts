/** What a token says about itself, parsed with WHATWG URL (independently of the code under test). */
export interface ParsedToken {
  hostPort: string;
  action: string | null;
  user: string | null;
  signedAt: number;
  expiresInSeconds: number;
  accessKeyId: string;
  credentialScope: string;
  sessionToken: string | null;
  signature: string | null;
}

export function parseToken(token: string): ParsedToken {
  const url = new URL(`https://${token}`);
  const date = url.searchParams.get('X-Amz-Date') ?? '';
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!match) throw new Error(`token has no X-Amz-Date: ${date}`);
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const credential = url.searchParams.get('X-Amz-Credential') ?? '';
  const [accessKeyId = '', ...scope] = credential.split('/');
  return {
    hostPort: url.host,
    action: url.searchParams.get('Action'),
    user: url.searchParams.get('DBUser'),
    signedAt: Date.UTC(y, mo - 1, d, h, mi, s),
    expiresInSeconds: Number(url.searchParams.get('X-Amz-Expires')),
    accessKeyId,
    credentialScope: scope.join('/'),
    sessionToken: url.searchParams.get('X-Amz-Security-Token'),
    signature: url.searchParams.get('X-Amz-Signature'),
  };
}
