(ns hub-client
  "A minimal sente-lite client for the gateway's hub (/chsk), written against
  Clojure's own EDN reader (clojure.edn/read-string) and printer (pr-str) and
  the npm ws WebSocket, so nothing is shared with the Go side but the wire.

  Scripts print one EDN vector [tag value] per line on stdout for the Go test
  (e2e/nbb_hub_test.go) to read; a failure prints [:fail \"why\"] and exits 1."
  (:require [clojure.edn :as edn]
            [promesa.core :as p]
            ["ws" :as ws]))

(def timeout-ms 15000)

(defn out!
  "Prints [tag v] as one line. Namespace-map syntax (#:ns{...}, nbb's default
  for maps whose keys share a namespace) is turned off here only so the Go side
  can read these result lines; what is sent to the hub uses the defaults."
  [tag v]
  (binding [*print-namespace-maps* false]
    (println (pr-str [tag v]))))

(defn fail! [why]
  (out! :fail (str why))
  (js/process.exit 1))

(defn- event? [v]
  (and (vector? v) (keyword? (first v)) (namespace (first v)) (<= 1 (count v) 2)))

(defn- deliver! [c item]
  (let [ws (:waiters c)]
    (if-let [d (first @ws)]
      (do (swap! ws subvec 1) (p/resolve! d item))
      (swap! (:inbox c) conj item))))

(defn- on-event [c ev]
  (case (first ev)
    ;; Answer the server's heartbeat, as every sente client does.
    :chsk/ws-ping (.send (:ws c) (pr-str [:chsk/ws-pong]))
    ;; The nREPL probe the hub sends every new client: not an nREPL peer, so ignore it.
    :nrepl/request (swap! (:ignored c) conj ev)
    (deliver! c [:event ev])))

(defn- on-frame [c text]
  (swap! (:frames c) inc)
  (let [v (try (edn/read-string text)
               (catch :default e
                 (fail! (str "clojure.edn cannot read the hub's frame " (pr-str text) ": " (ex-message e)))))]
    (cond
      ;; [data "cb-id"]: the reply to one of our callback events (Sente tells a
      ;; reply by its pending callback id).
      (and (vector? v) (= 2 (count v)) (string? (second v)) (contains? @(:pending c) (second v)))
      (do (swap! (:pending c) disj (second v))
          (deliver! c [:reply (first v) (second v)]))

      (event? v) (on-event c v)

      ;; [[ev1 ...] [ev2 ...]]: a batch, unwrapped in order.
      (and (vector? v) (seq v) (every? event? v))
      (do (swap! (:batches c) inc)
          (doseq [ev v] (on-event c ev)))

      :else (fail! (str "not a sente frame: " (pr-str text))))))

(defn connect
  "Opens url; resolves to the client once the socket is open."
  [url]
  (let [sock (ws/WebSocket. url)
        c {:ws sock
           :inbox (atom []) :waiters (atom [])
           :pending (atom #{}) :ignored (atom [])
           :frames (atom 0) :batches (atom 0)}]
    (.on sock "message"
         (fn [data binary?]
           (if binary?
             (fail! "binary frame from the hub")
             (on-frame c (.toString data "utf8")))))
    (.on sock "close"
         (fn [code reason] (deliver! c [:closed code (str reason)])))
    (p/create
     (fn [resolve reject]
       (.on sock "open" #(resolve c))
       (.on sock "error" reject)))))

(defn recv!
  "Resolves to the next item: [:event ev], [:reply data cb-id] or [:closed code reason]."
  [c]
  (if-let [item (first @(:inbox c))]
    (do (swap! (:inbox c) subvec 1) (p/resolved item))
    (let [d (p/deferred)]
      (swap! (:waiters c) conj d)
      (-> (p/timeout d timeout-ms)
          (p/catch (fn [_] (fail! (str "nothing from the hub within " timeout-ms " ms"))))))))

(defn recv-event!
  "Resolves to the next event vector; anything else fails the script."
  [c]
  (p/let [[kind x :as item] (recv! c)]
    (if (= kind :event) x (fail! (str "want an event, got " (pr-str item))))))

(defn send!
  "Sends v as printed by Clojure's own pr-str."
  [c v]
  (.send (:ws c) (pr-str v)))

(defn send-raw! [c text] (.send (:ws c) text))

(defn send-callback!
  "Sends [[ev-id data] cb-id] and remembers cb-id, so the reply is recognised."
  [c ev cb-id]
  (swap! (:pending c) conj cb-id)
  (send! c [ev cb-id]))

(defn handshake!
  "Reads the first event, which must be the handshake; resolves to
  {:uid :csrf :data :first?} (the short [uid csrf] form is accepted too)."
  [c]
  (p/let [[id [uid csrf data first?] :as ev] (recv-event! c)]
    (if (= id :chsk/handshake)
      {:uid uid :csrf csrf :data data :first? first?}
      (fail! (str "first event is not :chsk/handshake: " (pr-str ev))))))

(defn close! [c] (.close (:ws c)))

(defn run
  "Runs (f) (a promise), then exits: 0 when it resolved, 1 after [:fail ...]."
  [f]
  (-> (p/do (f))
      (p/then (fn [_] (js/process.exit 0)))
      (p/catch (fn [e] (fail! (or (ex-message e) e))))))
