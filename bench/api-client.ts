// The three calls of the upload API as the cost bench makes them, failing on any answer but code 0.
export interface Answer {
  readonly code: number;
  readonly [field: string]: unknown;
}

export async function post(
  baseUrl: string,
  token: string,
  endpoint: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<Answer> {
  const response = await fetch(`${baseUrl}/koodrive/ose/v1/files/${endpoint}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Answer;
  if (answer.code !== 0) {
    throw new Error(`${endpoint} answered HTTP ${response.status} ${JSON.stringify(answer)}`);
  }
  return answer;
}
