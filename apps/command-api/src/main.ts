import { run } from '../../run';

// `npm run start:command-api`: this app alone, as its container runs it.
run('command-api');
