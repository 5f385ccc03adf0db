// What the parser itself refuses: directive errors and unterminated heredocs.

import type { Rule } from './rule';

export const parseRule: Rule = {
  codes: [
    { code: 'DuplicateDirective', source: 'dockerfile', severity: 'error', summary: 'A parser directive is given twice.' },
    { code: 'InvalidEscapeDirective', source: 'dockerfile', severity: 'error', summary: 'The escape directive is neither \\ nor `.' },
    { code: 'UnterminatedHeredoc', source: 'dockerfile', severity: 'error', summary: 'A heredoc has no terminating line.' },
  ],
  check({ model, report }) {
    for (const problem of model.syntax.problems) {
      report({ code: problem.code, message: problem.message, span: problem });
    }
  },
};
