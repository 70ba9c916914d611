import { run } from '../../run';

// `npm run start:projector`: this app alone, as its container runs it.
run('projector');
