import { run } from './run';

// `npm start`: the three apps in one process (the embedded profile's default).
run();
