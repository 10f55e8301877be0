// Unit tests run the program against mocks: no reading of a live cluster.
process.env.PATRONI_STACK_LIVE = "off";
// Setting up a program's graph serializes the dynamic provider once per file: seconds.
jest.setTimeout(30000);
