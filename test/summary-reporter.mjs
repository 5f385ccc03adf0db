// A one-line closing summary for `npm test`, after the spec reporter's detail.
export default async function* summary(source) {
  let pass = 0, fail = 0, skip = 0, todo = 0;
  const failed = [];
  const started = Date.now();
  for await (const event of source) {
    if (event.type === 'test:pass' && !event.data.details?.type) {
      if (event.data.skip) skip++; else if (event.data.todo) todo++; else pass++;
    } else if (event.type === 'test:fail' && event.data.details?.type !== 'suite') {
      fail++;
      failed.push(`${event.data.file ?? ''} › ${event.data.name}`);
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed.length) yield `\nFailed:\n${failed.map((f) => `  ✗ ${f}`).join('\n')}\n`;
  yield `\n${fail === 0 ? 'PASS' : 'FAIL'}: ${pass} passed, ${fail} failed, ${skip} skipped${todo ? `, ${todo} todo` : ''} in ${seconds} s\n`;
}
