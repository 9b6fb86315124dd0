import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DependencyUnavailableError } from './errors.js';
import { launchServer, prepareServerDir, type StartOptions } from './launch.js';
import type { ServerProcess } from './serverProcess.js';

export type Availability = { ok: true } | { ok: false; reason: string };

// Debian's libzookeeper-java: zookeeper.jar's manifest Class-Path pulls in its
// dependencies (jute, netty, jetty, jackson, slf4j-api, ...) from /usr/share/java.
// It ships no slf4j binding, so we add one ourselves: log4j 1.2 for the server
// (console output for logText()), nop for the CLI (silences the SLF4J warnings).
const JAVA_DIR = '/usr/share/java';
const ZOOKEEPER_JAR = join(JAVA_DIR, 'zookeeper.jar');
const SERVER_JARS = [ZOOKEEPER_JAR, join(JAVA_DIR, 'slf4j-log4j12.jar'), join(JAVA_DIR, 'log4j-1.2.jar')];
const CLI_JARS = [ZOOKEEPER_JAR, join(JAVA_DIR, 'slf4j-nop.jar')];
const REQUIRED_JARS = [...new Set([...SERVER_JARS, ...CLI_JARS, join(JAVA_DIR, 'zookeeper-jute.jar')])];

export const ZOOKEEPER_SERVER_CLASSPATH = SERVER_JARS.join(':');
export const ZOOKEEPER_CLI_CLASSPATH = CLI_JARS.join(':');

/** JAVA_HOME/bin/java if set, else the first `java` on PATH. */
export function findJava(): string | undefined {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'java'));
  return candidates.find((p) => existsSync(p));
}

/** Whether Apache ZooKeeper (Debian `zookeeper` package) and Java are usable here. */
export function zookeeperAvailable(): Availability {
  if (!findJava()) return { ok: false, reason: 'no java executable (JAVA_HOME or PATH)' };
  const missing = REQUIRED_JARS.filter((jar) => !existsSync(jar));
  if (missing.length > 0) {
    return { ok: false, reason: `missing ${missing.join(', ')} (apt-get install zookeeper)` };
  }
  return { ok: true };
}

/** The java executable, or a DependencyUnavailableError saying what is missing. */
export function requireZooKeeperJava(): string {
  const availability = zookeeperAvailable();
  if (!availability.ok) throw new DependencyUnavailableError(`Apache ZooKeeper unavailable: ${availability.reason}`);
  return findJava()!;
}

// Console-only logging; ServerProcess captures it into logText() and server.log.
const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Target=System.out
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
`;

/** Start Apache ZooKeeper (standalone, foreground JVM) on a free loopback port. */
export async function startZooKeeper(options: StartOptions = {}): Promise<ServerProcess> {
  const java = requireZooKeeperJava();
  const dir = await prepareServerDir(options.settings);
  const log4jPath = join(dir.tmpDir, 'log4j.properties');
  await writeFile(log4jPath, LOG4J_PROPERTIES, 'utf8');
  // Equivalent of `zkServer.sh start-foreground`, minus the Debian wrapper's
  // fixed config dir, /var/log paths and JMX remote flags.
  const args = [
    '-Xmx512m',
    '-XX:+UseSerialGC',
    `-Dzookeeper.log.dir=${dir.tmpDir}`,
    '-Dzookeeper.log.file=zookeeper.log',
    `-Dlog4j.configuration=${pathToFileURL(log4jPath).href}`,
    '-Dzookeeper.jmx.log4j.disable=true',
    '-cp',
    ZOOKEEPER_SERVER_CLASSPATH,
    'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    dir.cfgPath,
  ];
  return launchServer({
    name: 'zookeeper',
    command: java,
    args,
    dir,
    env: options.env,
    startTimeoutMs: options.startTimeoutMs,
  });
}
