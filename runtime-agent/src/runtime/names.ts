// Container names: generated ones in Docker's adjective_surname style, and Docker's rule for
// names people give.

const ADJECTIVES = [
  'agile', 'bold', 'brave', 'bright', 'calm', 'clever', 'cool', 'curious', 'eager', 'fervent', 'gentle', 'happy',
  'keen', 'kind', 'lucid', 'merry', 'modest', 'nimble', 'patient', 'quiet', 'quirky', 'serene', 'sharp', 'steady',
  'sunny', 'swift', 'tender', 'vibrant', 'wise', 'witty', 'zealous', 'zen',
];

const SURNAMES = [
  'babbage', 'bell', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'faraday', 'fermi', 'franklin', 'gauss',
  'goodall', 'hamilton', 'hopper', 'hypatia', 'kepler', 'knuth', 'lamarr', 'liskov', 'lovelace', 'maxwell',
  'meitner', 'newton', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'wozniak', 'yalow',
];

export function generateName(taken: (name: string) => boolean): string {
  const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)];
  for (let attempt = 0; ; attempt++) {
    const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}${attempt > 10 ? Math.floor(Math.random() * 10) : ''}`;
    if (!taken(name)) return name;
  }
}

export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
